"""What staff do to a case — approve, reject, reclassify, verify by hand, extend, dismiss — as
core functions that the `dsr cases` CLI and Slack both call. Each checks the actor, moves the
case through the lifecycle and audits it with the actor's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from bot.case.data import case_data, reply_thread, verified_address
from bot.case.deadlines import MAX_EXTENSION_MONTHS, add_months
from bot.case.lifecycle import CaseState, Event, transition
from bot.case.messages import OutboxItem, mail_item, slack_item
from bot.case.policy import RESTRICT, approvals_needed
from bot.case.store import get_case
from bot.errors import DsrError, NotAuthorized
from bot.work import recipients
from bot.work.desk import Desk
from intents.labels import LABELS, Intent
from storage import audit
from storage.customer import CustomerStoreError, InvalidChange, rights
from storage.models import Case, InboundMessage, TrainingLabel, utcnow
from storage.pseudonym import value_hash


@dataclass(frozen=True)
class ActionResult:
    """What an action did, for the CLI or a Slack reply."""

    case_ref: str
    state: str
    message: str
    #: False when nothing was done (the CLI then exits 2).
    done: bool = True


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
        # The customer hears nothing until the work is done: the result mail is the answer.
        outbox = _cards(desk, case)
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
                    **reply_thread(case),
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
                    **reply_thread(case),
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


async def lift(desk: Desk, ref: str, actor: str) -> ActionResult:
    """Lift a case's restriction (Art. 18(3)): the customer is told first; the restriction is
    removed only once our mail was accepted (`bot.work.pipeline` does that, audited).

    Raises:
        DsrError: the case holds no active restriction, or its lifting is already under way.
    """
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        data = case_data(case)
        address = verified_address(case)
        active = await rights.active_restrictions(desk.executor.engine, case.reference)
        if RESTRICT not in data.rights or case.state != CaseState.DONE or not active:
            raise DsrError(
                f"{case.reference} holds no active restriction to lift (state {case.state}); "
                "see `dsr cases show`"
            )
        if data.lifting == "pending":
            raise DsrError(f"{case.reference}: the lifting is already under way")
        assert address is not None  # a done restriction was carried out for an address on file
        outbox = [
            mail_item(
                "restriction_lifting",
                to=address,
                lang=case.language,
                context={"case_ref": case.reference},
                **reply_thread(case),
            ),
            *_cards(desk, case),
        ]
        await transition(
            session,
            case,
            Event.NOTE,
            actor=actor,
            details={"note": "restriction_lift_requested", "marks": active},
            changes={"data": data.with_(lifting="pending").to_json(), "next_action_at": utcnow()},
            outbox=outbox,
            domain=desk.settings.own_domain,
        )
        return ActionResult(
            case.reference,
            case.state,
            f"{case.reference}: the customer is being told; the restriction is lifted once the "
            "mail is accepted",
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


def parse_changes(pairs: Sequence[str]) -> list[tuple[str, str]]:
    """`FIELD=VALUE` arguments as pairs (pure).

    Raises:
        DsrError: an argument without `=`, or with an empty field or value.
    """
    out = []
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip() or not value.strip():
            raise DsrError(f"{pair!r} is not FIELD=VALUE, e.g. phone=+33612345678")
        out.append((field.strip().lower(), value.strip()))
    return out


async def supply_change(
    desk: Desk, ref: str, actor: str, changes: Sequence[tuple[str, str]]
) -> ActionResult:
    """Staff give the field(s) and new value(s) of a correction, before it is approved.

    From triage the case starts over (verification, then approval); awaiting verification or
    approval it keeps its place with the new diff; a failed case goes back to approval, so the
    diff is approved before it is applied. Audited with field names and keyed value hashes.

    Raises:
        DsrError: not a correction, an unknown field, or a value the store refuses.
    """
    if not changes:
        raise DsrError("give at least one FIELD=VALUE")
    editable = desk.executor.editable()
    unknown = [f for f, _ in changes if f not in editable]
    if unknown:
        raise DsrError(
            f"{', '.join(unknown)}: not a field that can be corrected; "
            f"fields: {', '.join(editable)}"
        )
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        if Intent.CHANGE not in case.intents:
            raise DsrError(
                f"{case.reference} is not a correction request; reclassify it as change first"
            )
        merged = {**dict(case_data(case).changes), **dict(changes)}
        address = verified_address(case)
        if address is not None:
            try:  # the full check (value formats, the account's country) when we can
                subject = await desk.executor.subject(address)
                await desk.executor.preview_change(subject, merged)
            except InvalidChange as exc:
                raise DsrError(f"{case.reference}: {exc}") from None
            except CustomerStoreError:
                pass  # no account to check against: the approval card shows why
        values: dict[str, object] = {
            "data": case_data(case).with_(changes=tuple(merged.items()), failure=None).to_json(),
            "round": case.round + 1,  # approvals given for an earlier diff no longer count
        }
        if case.state == CaseState.NEEDS_TRIAGE:
            values |= {"needs_review": False, "next_action_at": utcnow()}
        await transition(
            session,
            case,
            Event.SUPPLY_CHANGE,
            actor=actor,
            details={
                "fields": sorted(merged),
                "values": {f: value_hash(desk.key, v) for f, v in sorted(merged.items())},
            },
            changes=values,
            outbox=_cards(desk, case),
            domain=desk.settings.own_domain,
        )
        fields = ", ".join(sorted(merged))
        return ActionResult(
            case.reference,
            case.state,
            f"{case.reference}: change of {fields} recorded ({case.state})",
        )


async def retry(desk: Desk, ref: str, actor: str) -> ActionResult:
    """Carry out a failed case again; for a case carried out whose result mail is not delivered,
    send that mail again now. `done` is False when there is nothing to retry."""
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, ref, for_update=True)
        if case.state == CaseState.FAILED:
            await transition(
                session,
                case,
                Event.RETRY,
                actor=actor,
                changes={
                    "next_action_at": utcnow(),
                    "data": case_data(case).with_(failure=None).to_json(),
                },
                outbox=_cards(desk, case),
                domain=desk.settings.own_domain,
            )
            return ActionResult(case.reference, case.state, f"{case.reference} will be retried")
        waiting = await store.undelivered_outbox(session, case_id=case.id)
    if case.state == CaseState.APPROVED and waiting:
        from bot.work.delivery import resend  # delivery imports this module

        results = [await resend(desk, row.id or 0, actor) for row in waiting]
        sent = [r for r in results if r.done]
        return ActionResult(
            case.reference,
            case.state,
            f"{case.reference}: {len(sent)} mail(s) queued again",
            done=bool(sent),
        )
    return ActionResult(
        case.reference,
        case.state,
        f"{case.reference} is {case.state}; nothing to retry",
        done=False,
    )


def check_approver(desk: Desk, user_id: str, groups: frozenset[str] = frozenset()) -> None:
    """Raise `NotAuthorized` unless the Slack user may act on cases."""
    allowed = desk.settings.approvers
    group = desk.settings.slack_approver_group
    if user_id in allowed or (group is not None and group in groups):
        return
    raise NotAuthorized("only configured approvers may act on cases")


async def recipient_done(desk: Desk, ref: str, key: str, actor: str) -> ActionResult:
    """Staff told a recipient by hand (Art. 19; a recipient with no contact in the data map):
    the task is done, audited (`recipient_task_done_by_hand`).

    Raises:
        CaseNotFound: no such case, or no task for that recipient key.
    """
    message = await recipients.mark_done(desk, ref, key, actor)
    async with desk.sessions() as session:
        case = await get_case(session, ref)
    return ActionResult(case.reference, case.state, message)
