"""What staff do to a case — approve, reject, reclassify, verify by hand, extend, dismiss — as
core functions that the `dsr cases` CLI and Slack both call. Each checks the actor, moves the
case through the lifecycle and audits it with the actor's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from bot.case.data import case_data, verified_address
from bot.case.deadlines import MAX_EXTENSION_MONTHS, add_months
from bot.case.lifecycle import CaseState, Event, transition
from bot.case.messages import OutboxItem, mail_item, slack_item
from bot.case.policy import NEEDS_VERIFICATION, approvals_needed
from bot.case.store import get_case
from bot.errors import DsrError, NotAuthorized
from bot.work.desk import Desk
from intents.labels import LABELS
from storage import audit
from storage.models import Case, InboundMessage, TrainingLabel, utcnow
from storage.pseudonym import value_hash


@dataclass(frozen=True)
class ActionResult:
    """What an action did, for the CLI or a Slack reply."""

    case_ref: str
    state: str
    message: str
    done: bool = True  # False when the action changed nothing (the CLI exits 2)


class ReasonRequired(DsrError, ValueError):
    """An action that must be explained was given no reason."""


def _need_reason(reason: str | None, what: str) -> str:
    text = (reason or "").strip()
    if len(text) < 3:
        raise ReasonRequired(f"{what} needs a reason (it is audited and, where apt, sent on)")
    return text[:2000]


async def _audit_refusal(
    session: AsyncSession, case: Case, actor: str, action: str, why: str
) -> None:
    await audit.append(
        session,
        action="action_refused",
        actor=actor,
        case_ref=case.reference,
        details={"attempted": action, "why": why, "state": case.state},
    )


def _cards(desk: Desk, case: Case) -> list[OutboxItem]:
    return [slack_item("case_card", case=case.reference)] if desk.slack_enabled else []


async def approve(desk: Desk, ref: str, actor: str) -> ActionResult:
    """Record an approval; the case moves on once enough distinct approvers agreed."""
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        if case.state != CaseState.AWAITING_APPROVAL:
            await _audit_refusal(session, case, actor, "approve", "not_awaiting_approval")
            return ActionResult(
                case.reference,
                case.state,
                f"{case.reference} is {case.state}; nothing to approve",
                done=False,
            )
        approvers = await store.approvers(session, case)
        if actor in approvers:
            await _audit_refusal(session, case, actor, "approve", "same_approver_twice")
            return ActionResult(
                case.reference,
                case.state,
                f"you already approved {case.reference}; a second approver is needed",
                done=False,
            )
        await store.record_approval(session, case, actor, "approve")
        approvers.add(actor)
        needed = approvals_needed(case.intents, desk.policy)
        if len(approvers) < needed:
            await audit.append(
                session,
                action="approval_recorded",
                actor=actor,
                case_ref=case.reference,
                details={"approvals": len(approvers), "needed": needed},
            )
            return ActionResult(
                case.reference,
                case.state,
                f"approval {len(approvers)} of {needed} recorded for {case.reference}",
            )
        outbox = _cards(desk, case)
        address = verified_address(case)
        if address is not None and set(case.intents) & NEEDS_VERIFICATION:
            # Told at the address on file, which proved control; the result mail follows.
            outbox.append(
                mail_item(
                    "approved",
                    to=address,
                    lang=case.language,
                    context={"case_ref": case.reference},
                )
            )
        await transition(
            session,
            case,
            Event.APPROVE,
            actor=actor,
            details={"approvers": len(approvers)},
            changes={"next_action_at": utcnow()},
            outbox=outbox,
            domain=desk.settings.own_domain,
        )
        return ActionResult(case.reference, case.state, f"{case.reference} approved")


async def reject(desk: Desk, ref: str, actor: str, reason: str | None) -> ActionResult:
    """Reject with a reason that the customer is told."""
    text = _need_reason(reason, "a rejection")
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        outbox = _cards(desk, case)
        if case.requester_address:
            outbox.append(
                mail_item(
                    "rejected",
                    to=case.requester_address,
                    lang=case.language,
                    context={"case_ref": case.reference, "reason": text},
                    in_reply_to=case_data(case).message_id,
                )
            )
        await store.record_approval(session, case, actor, "reject", reason=text)
        await transition(
            session,
            case,
            Event.REJECT,
            actor=actor,
            details={"reason_chars": len(text)},
            changes={"next_action_at": None},
            outbox=outbox,
            domain=desk.settings.own_domain,
        )
        return ActionResult(case.reference, case.state, f"{case.reference} rejected")


async def reclassify(desk: Desk, ref: str, actor: str, intents: Sequence[str]) -> ActionResult:
    """Staff set the intents; the case starts over and the choice becomes a training label."""
    chosen = list(dict.fromkeys(i.strip().lower() for i in intents if i.strip()))
    unknown = [i for i in chosen if i not in LABELS]
    if not chosen or unknown:
        raise DsrError(f"intents must be some of {', '.join(LABELS)}; got {', '.join(chosen)}")
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        inbound = await store.first_request_record(session, case.id)
        text = _inbound_text(inbound)
        if text:
            label = TrainingLabel(
                case_id=case.id,
                text=text,
                labels=chosen,
                language=case.language,
                predicted=list(case.intents),
                actor=actor,
            )
            await store.add_training_label(session, label)
        await transition(
            session,
            case,
            Event.RECLASSIFY,
            actor=actor,
            details={"from_intents": list(case.intents), "to_intents": chosen},
            changes={
                "intents": chosen,
                "needs_review": False,
                "round": case.round + 1,
                "next_action_at": utcnow(),
            },
            domain=desk.settings.own_domain,
        )
        return ActionResult(
            case.reference, case.state, f"{case.reference} reclassified as {', '.join(chosen)}"
        )


def _inbound_text(inbound: InboundMessage | None) -> str | None:
    if inbound is None or inbound.raw is None:
        return None
    from mail.errors import MailParseError
    from mail.parse import parse_message

    try:
        msg = parse_message(inbound.raw, trusted_authserv_id=None, max_bytes=len(inbound.raw) + 1)
    except MailParseError:
        return None
    return msg.body_for_classification or None


async def verify_manually(desk: Desk, ref: str, actor: str, reason: str | None) -> ActionResult:
    """Staff confirmed the requester's identity by other means (audited with the reason)."""
    text = _need_reason(reason, "a manual verification")
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        subject = case_data(case).subject
        if subject is None or not subject.addresses:
            raise DsrError(
                f"{case.reference}: no address on file was found for this request, so "
                "there is nobody to act for; reclassify or reject it"
            )
        await transition(
            session,
            case,
            Event.VERIFY_MANUALLY,
            actor=actor,
            # The reason may name the customer: the log keeps a keyed hash, the case the text.
            details={"reason_chars": len(text), "reason_hash": value_hash(desk.key, text)},
            changes={
                "verified_by": actor[:64],
                "next_action_at": None,
                "data": case_data(case).with_(manual_verification_reason=text).to_json(),
            },
            outbox=_cards(desk, case),
            domain=desk.settings.own_domain,
        )
        return ActionResult(case.reference, case.state, f"{case.reference} verified by hand")


async def extend(desk: Desk, ref: str, actor: str, months: int, reason: str | None) -> ActionResult:
    """Extend the deadline by 1 or 2 months (Art. 12(3)); the customer is told why."""
    text = _need_reason(reason, "an extension")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise DsrError(f"an extension is 1 or {MAX_EXTENSION_MONTHS} months; got {months}")
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        new_due = add_months(case.due_on, months)
        outbox = _cards(desk, case)
        if case.requester_address:
            outbox.append(
                mail_item(
                    "extension",
                    to=case.requester_address,
                    lang=case.language,
                    context={
                        "case_ref": case.reference,
                        "new_due_date": new_due.isoformat(),
                        "reason": text,
                    },
                    in_reply_to=case_data(case).message_id,
                )
            )
        await transition(
            session,
            case,
            Event.EXTEND,
            actor=actor,
            details={"months": months, "new_due": new_due.isoformat()},
            changes={"extended_to": new_due, "extension_reason": text},
            outbox=outbox,
            domain=desk.settings.own_domain,
        )
        return ActionResult(
            case.reference, case.state, f"{case.reference} now due {new_due.isoformat()}"
        )


async def dismiss(desk: Desk, ref: str, actor: str) -> ActionResult:
    """Triage: not a data-subject request; closed without a reply (stored as label `other`)."""
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        await transition(
            session,
            case,
            Event.DISMISS,
            actor=actor,
            changes={"next_action_at": None},
            outbox=_cards(desk, case),
            domain=desk.settings.own_domain,
        )
        return ActionResult(case.reference, case.state, f"{case.reference} dismissed")


def check_approver(desk: Desk, user_id: str, groups: frozenset[str] = frozenset()) -> None:
    """Raise `NotAuthorized` unless the Slack user may act on cases."""
    allowed = desk.settings.approvers
    group = desk.settings.slack_approver_group
    if user_id in allowed or (group is not None and group in groups):
        return
    raise NotAuthorized("only configured approvers may act on cases")
