"""The case lifecycle: one transition table, pure code. Everything that moves a case lives here.

    received -classify-> awaiting_verification -verify-> awaiting_approval -approve-> approved
    received -no_verification_needed-> awaiting_approval;  approved -complete-> done

Side exits: needs_triage (triage), rejected (reject), expired (expire), failed (fail).
Self-loops (extend, remind, note) keep the state but are events, so they are audited too.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from bot.errors import IllegalTransition


class State(StrEnum):
    """Where a case is."""

    RECEIVED = "received"
    AWAITING_VERIFICATION = "awaiting_verification"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DONE = "done"
    NEEDS_TRIAGE = "needs_triage"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class Event(StrEnum):
    """What can happen to a case."""

    CLASSIFY = "classify"  # a request that needs the requester verified
    NO_VERIFICATION_NEEDED = "no_verification_needed"  # e.g. concern, unsubscribe
    TRIAGE = "triage"  # other / low confidence: staff decide
    RECLASSIFY = "reclassify"  # staff chose intents: start over from received
    VERIFY = "verify"  # challenge answered
    VERIFY_MANUALLY = "verify_manually"  # staff verified by other means, with a reason
    APPROVE = "approve"
    AUTO_APPROVE = "auto_approve"  # the policy needs no human (unsubscribe, concern ack)
    REJECT = "reject"
    DISMISS = "dismiss"  # triage: not a data-subject request
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY = "retry"
    EXPIRE = "expire"
    EXTEND = "extend"
    REMIND = "remind"
    NOTE = "note"


S, E = State, Event
OPEN_STATES = frozenset(
    {S.RECEIVED, S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL, S.APPROVED, S.NEEDS_TRIAGE, S.FAILED}
)
CLOSED_STATES = frozenset(set(State) - OPEN_STATES)

_MOVES: dict[tuple[State, Event], State] = {
    (S.RECEIVED, E.CLASSIFY): S.AWAITING_VERIFICATION,
    (S.RECEIVED, E.NO_VERIFICATION_NEEDED): S.AWAITING_APPROVAL,
    (S.RECEIVED, E.TRIAGE): S.NEEDS_TRIAGE,
    (S.RECEIVED, E.REJECT): S.REJECTED,
    (S.NEEDS_TRIAGE, E.RECLASSIFY): S.RECEIVED,
    (S.NEEDS_TRIAGE, E.DISMISS): S.DONE,
    (S.NEEDS_TRIAGE, E.REJECT): S.REJECTED,
    (S.AWAITING_VERIFICATION, E.VERIFY): S.AWAITING_APPROVAL,
    (S.AWAITING_VERIFICATION, E.VERIFY_MANUALLY): S.AWAITING_APPROVAL,
    (S.AWAITING_VERIFICATION, E.EXPIRE): S.EXPIRED,
    (S.AWAITING_VERIFICATION, E.REJECT): S.REJECTED,
    (S.AWAITING_VERIFICATION, E.RECLASSIFY): S.RECEIVED,
    (S.AWAITING_APPROVAL, E.APPROVE): S.APPROVED,
    (S.AWAITING_APPROVAL, E.AUTO_APPROVE): S.APPROVED,
    (S.AWAITING_APPROVAL, E.REJECT): S.REJECTED,
    (S.AWAITING_APPROVAL, E.RECLASSIFY): S.RECEIVED,
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


def allowed_events(state: State) -> tuple[Event, ...]:
    """Events that may happen in `state`, in table order."""
    return tuple(ev for (st, ev) in TRANSITIONS if st == state)


def next_state(case_ref: str, state: State | str, event: Event | str) -> State:
    """The state after `event`.

    Raises:
        IllegalTransition: naming the case, the state and the event, and what is allowed.
    """
    try:
        st, ev = State(state), Event(event)
    except ValueError:
        raise IllegalTransition(case_ref, str(state), str(event), ()) from None
    try:
        return TRANSITIONS[(st, ev)]
    except KeyError:
        raise IllegalTransition(
            case_ref, st.value, ev.value, tuple(e.value for e in allowed_events(st))
        ) from None


def is_open(state: State | str) -> bool:
    """True while the case still needs work."""
    return State(state) in OPEN_STATES
