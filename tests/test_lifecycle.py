"""The transition table: legal moves, illegal ones named clearly, closed states stay closed."""

from __future__ import annotations

import pytest

from bot.case.lifecycle import (
    CLOSED_STATES,
    TRANSITIONS,
    CaseState,
    Event,
    allowed_events,
    is_open,
    next_state,
)
from bot.errors import IllegalTransition

HAPPY_PATH = [
    (CaseState.RECEIVED, Event.CLASSIFY, CaseState.AWAITING_VERIFICATION),
    (CaseState.AWAITING_VERIFICATION, Event.VERIFY, CaseState.AWAITING_APPROVAL),
    (CaseState.AWAITING_APPROVAL, Event.APPROVE, CaseState.APPROVED),
    (CaseState.APPROVED, Event.COMPLETE, CaseState.DONE),
]


@pytest.mark.parametrize(("state", "event", "expected"), HAPPY_PATH, ids=lambda v: str(v))
def test_happy_path(state: CaseState, event: Event, expected: CaseState) -> None:
    assert next_state("DSR-1", state, event) == expected


def test_illegal_transition_names_case_state_event_and_options() -> None:
    with pytest.raises(IllegalTransition) as info:
        next_state("DSR-42", CaseState.RECEIVED, Event.APPROVE)
    msg = str(info.value)
    assert "DSR-42" in msg and "'approve'" in msg and "'received'" in msg
    assert "classify" in msg  # tells what would have been allowed


def test_unknown_state_or_event_is_an_illegal_transition() -> None:
    with pytest.raises(IllegalTransition, match="DSR-7"):
        next_state("DSR-7", "bogus", Event.APPROVE)
    with pytest.raises(IllegalTransition, match="frobnicate"):
        next_state("DSR-7", CaseState.RECEIVED, "frobnicate")


@pytest.mark.parametrize("state", sorted(CLOSED_STATES), ids=str)
def test_closed_states_only_take_notes(state: CaseState) -> None:
    assert allowed_events(state) == (Event.NOTE,)
    assert not is_open(state)
    with pytest.raises(IllegalTransition):
        next_state("DSR-1", state, Event.APPROVE)


def test_every_state_is_reachable_from_received() -> None:
    seen, frontier = {CaseState.RECEIVED}, [CaseState.RECEIVED]
    while frontier:
        current = frontier.pop()
        for (src, _ev), dst in TRANSITIONS.items():
            if src == current and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    assert seen == set(CaseState)


def test_approval_cannot_be_skipped() -> None:
    """No event leads from verification straight to approved or done."""
    for event in allowed_events(CaseState.AWAITING_VERIFICATION):
        assert next_state("DSR-1", CaseState.AWAITING_VERIFICATION, event) not in {
            CaseState.APPROVED,
            CaseState.DONE,
        }
