"""The case lifecycle: the transition table and the two functions that apply it — `open_case`
(every case starts here, whatever the channel) and `transition` (every move). A move, its audit
event and its outbox rows are written in the caller's one transaction.

    received -classify-> awaiting_verification -verify-> awaiting_approval -approve-> approved
    received -no_verification_needed-> awaiting_approval;  approved -complete-> done
    approved -carry_out-> approved: the work is done and its result mails are queued; the case
    completes when the mail server accepted every one of them (the outbox worker moves it).
    A change request that names no field goes to triage (needs_field) and comes back with
    `supply_change` once staff gave the field and value.

Side exits: needs_triage (triage), rejected (reject; subject_refused when the challenged address
says no), expired (expire), failed (fail).
Self-loops (extend, remind, note) keep the state but are events, so they are audited too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from bot.case.data import CaseData
from bot.case.deadlines import due_date
from bot.case.messages import OutboxItem
from bot.errors import IllegalTransition
from intents.labels import Intent
from storage import audit
from storage.models import Case, CaseState, utcnow

if TYPE_CHECKING:  # the classifier (spaCy) is not imported by the commands that only read cases
    from intents.classify import Classification

__all__ = [
    "CLOSED_STATES",
    "OPEN_STATES",
    "TRANSITIONS",
    "CaseState",
    "Event",
    "NewRequest",
    "allowed_events",
    "is_open",
    "next_state",
    "open_case",
    "open_request",
    "transition",
]


class Event(StrEnum):
    """What can happen to a case."""

    CLASSIFY = "classify"  # a request that needs the requester verified
    NO_VERIFICATION_NEEDED = "no_verification_needed"  # e.g. concern, unsubscribe
    TRIAGE = "triage"  # other / low confidence: staff decide
    RECLASSIFY = "reclassify"  # staff chose intents: start over from received
    VERIFY = "verify"  # challenge answered
    VERIFY_MANUALLY = "verify_manually"  # staff verified by other means, with a reason
    SUBJECT_REFUSED = "subject_refused"  # the challenged address said no: closed, nothing done
    APPROVE = "approve"
    AUTO_APPROVE = "auto_approve"  # the policy needs no human (unsubscribe, concern ack)
    REJECT = "reject"
    DISMISS = "dismiss"  # triage: not a data-subject request
    CARRY_OUT = "carry_out"  # the work is done; result mails queued, not yet accepted
    COMPLETE = "complete"  # every result mail was accepted by the mail server
    NEEDS_FIELD = "needs_field"  # a change request names no field: staff must supply it
    SUPPLY_CHANGE = "supply_change"  # staff gave the field and value of a change
    FAIL = "fail"
    RETRY = "retry"
    EXPIRE = "expire"
    EXTEND = "extend"
    REMIND = "remind"
    NOTE = "note"


S, E = CaseState, Event
OPEN_STATES = frozenset(
    {S.RECEIVED, S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL, S.APPROVED, S.NEEDS_TRIAGE, S.FAILED}
)
CLOSED_STATES = frozenset(set(CaseState) - OPEN_STATES)

_MOVES: dict[tuple[CaseState, Event], CaseState] = {
    (S.RECEIVED, E.CLASSIFY): S.AWAITING_VERIFICATION,
    (S.RECEIVED, E.NO_VERIFICATION_NEEDED): S.AWAITING_APPROVAL,
    (S.RECEIVED, E.TRIAGE): S.NEEDS_TRIAGE,
    (S.RECEIVED, E.REJECT): S.REJECTED,
    (S.RECEIVED, E.NEEDS_FIELD): S.NEEDS_TRIAGE,
    (S.NEEDS_TRIAGE, E.SUPPLY_CHANGE): S.RECEIVED,
    (S.AWAITING_VERIFICATION, E.SUPPLY_CHANGE): S.AWAITING_VERIFICATION,
    (S.AWAITING_APPROVAL, E.SUPPLY_CHANGE): S.AWAITING_APPROVAL,
    (S.FAILED, E.SUPPLY_CHANGE): S.AWAITING_APPROVAL,  # staff approve the new diff first
    (S.FAILED, E.RECLASSIFY): S.RECEIVED,
    (S.NEEDS_TRIAGE, E.RECLASSIFY): S.RECEIVED,
    (S.NEEDS_TRIAGE, E.DISMISS): S.DONE,
    (S.NEEDS_TRIAGE, E.REJECT): S.REJECTED,
    (S.AWAITING_VERIFICATION, E.VERIFY): S.AWAITING_APPROVAL,
    (S.AWAITING_VERIFICATION, E.VERIFY_MANUALLY): S.AWAITING_APPROVAL,
    (S.AWAITING_VERIFICATION, E.SUBJECT_REFUSED): S.REJECTED,
    (S.AWAITING_VERIFICATION, E.EXPIRE): S.EXPIRED,
    (S.AWAITING_VERIFICATION, E.REJECT): S.REJECTED,
    (S.AWAITING_VERIFICATION, E.RECLASSIFY): S.RECEIVED,
    (S.AWAITING_APPROVAL, E.APPROVE): S.APPROVED,
    (S.AWAITING_APPROVAL, E.AUTO_APPROVE): S.APPROVED,
    (S.AWAITING_APPROVAL, E.REJECT): S.REJECTED,
    (S.AWAITING_APPROVAL, E.RECLASSIFY): S.RECEIVED,
    (S.APPROVED, E.CARRY_OUT): S.APPROVED,
    (S.APPROVED, E.COMPLETE): S.DONE,
    (S.APPROVED, E.FAIL): S.FAILED,
    (S.FAILED, E.RETRY): S.APPROVED,
    (S.FAILED, E.REJECT): S.REJECTED,
}
for _state in OPEN_STATES:
    for _event in (E.EXTEND, E.REMIND, E.NOTE):
        _MOVES[(_state, _event)] = _state
for _state in CLOSED_STATES:
    _MOVES[(_state, E.NOTE)] = _state

TRANSITIONS = MappingProxyType(_MOVES)


def allowed_events(state: CaseState) -> tuple[Event, ...]:
    """Events that may happen in `state`, in table order."""
    return tuple(ev for (st, ev) in TRANSITIONS if st == state)


def next_state(case_ref: str, state: CaseState | str, event: Event | str) -> CaseState:
    """The state after `event`.

    Raises:
        IllegalTransition: naming the case, the state and the event, and what is allowed.
    """
    try:
        st, ev = CaseState(state), Event(event)
    except ValueError:
        raise IllegalTransition(case_ref, str(state), str(event), ()) from None
    try:
        return TRANSITIONS[(st, ev)]
    except KeyError:
        raise IllegalTransition(
            case_ref, st.value, ev.value, tuple(e.value for e in allowed_events(st))
        ) from None


def is_open(state: CaseState | str) -> bool:
    """True while the case still needs work."""
    return CaseState(state) in OPEN_STATES


async def open_case(
    session: AsyncSession,
    *,
    actor: str,
    channel: str,
    received_at: datetime | None = None,
    language: str | None = None,
    requester_address: str | None = None,
    subject_pseudonym: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Case:
    """Create a case in state `received` and audit it (no commit).

    Args:
        actor: who opened it (`system`, `slack:U…`, `cli:name`).
        channel: email | slack | staff.
        details: extra audit details (no raw personal data).
    """
    received = received_at or utcnow()
    case = await store.insert_case(
        session,
        Case(
            state=CaseState.RECEIVED,
            channel=channel,
            received_at=received,
            due_on=due_date(received.date()),
            language=language,
            requester_address=requester_address,
            requester_hash=requester_address,  # stored as its keyed hash (LookupHash)
            subject_pseudonym=subject_pseudonym,
        ),
    )
    await audit.append(
        session,
        action="case_received",
        actor=actor,
        case_ref=case.reference,
        details={"channel": channel, "due_on": case.due_on.isoformat(), **dict(details or {})},
    )
    return case


@dataclass(frozen=True)
class NewRequest:
    """A request as any channel hands it over: who asked, what the classifier said, what staff
    chose (if anything), and the case data (identifiers, proposed change, threading)."""

    channel: str  # email | staff
    actor: str
    requester: str | None
    result: Classification
    data: CaseData
    #: Intents staff chose; empty means the classifier's.
    chosen: Sequence[Intent] = ()
    #: Extra audit details (no raw personal data).
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def intents(self) -> list[Intent]:
        """What the case will handle, main intent first."""
        return list(self.chosen) or list(self.result.intents) or [self.result.intent]


async def open_request(session: AsyncSession, request: NewRequest) -> Case:
    """Open the case for a request from any channel, ready for the pipeline (no commit)."""
    result, intents = request.result, request.intents
    case = await open_case(
        session,
        actor=request.actor,
        channel=request.channel,
        language=result.language if result.language != "und" else None,
        requester_address=request.requester,
        details={"intents": [str(i) for i in intents], **request.details},
    )
    case.intents = [str(i) for i in intents]
    case.scores = {k: round(float(v), 4) for k, v in result.scores.items()}
    case.confidence = None if request.chosen else max(result.scores.values(), default=0.0)
    case.needs_review = False if request.chosen else result.needs_review
    case.thread_root = request.data.message_id
    reason = "" if request.chosen else result.review_reason
    case.data = request.data.with_(review_reason=reason).to_json()
    case.next_action_at = utcnow()
    await store.save_case(session, case)
    return case


async def transition(
    session: AsyncSession,
    case: Case,
    event: Event,
    *,
    actor: str,
    details: Mapping[str, Any] | None = None,
    outbox: Sequence[OutboxItem] = (),
    changes: Mapping[str, Any] | None = None,
    domain: str = "dsr.invalid",
) -> Case:
    """Move `case` by `event` inside the caller's transaction (no commit).

    The UPDATE is guarded by the case's version, so two workers can never both move it.

    Args:
        changes: other columns to set with the move (e.g. intents, extended_to).
        domain: the domain of our Message-IDs (mail rows get one when stored).

    Raises:
        IllegalTransition: the event is not allowed in the case's state.
        ConcurrentUpdateError: someone else moved the case first; reload and decide again.
    """
    old = CaseState(case.state)
    new = next_state(case.reference, old, event)
    now = utcnow()
    values: dict[str, Any] = {"state": new, "version": case.version + 1, "updated_at": now}
    if new != old and new in CLOSED_STATES:
        values["closed_at"] = now
    values.update(changes or {})
    await store.apply_move(session, case, values)
    await audit.append(
        session,
        action=f"case_{event.value}",
        actor=actor,
        case_ref=case.reference,
        details={"from": old.value, "to": new.value, **dict(details or {})},
    )
    await store.add_outbox(session, case, outbox, domain=domain)
    return case
