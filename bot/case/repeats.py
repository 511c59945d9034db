"""Repeated requests: a new request with the same intent from the same address joins the open
case; a manifestly repetitive stream (Art. 12(5)) is flagged for staff, never refused. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.case.data import CaseData, case_data
from bot.case.lifecycle import is_open
from storage.models import Case


@dataclass(frozen=True)
class Repeat:
    """What to do with a new request given the same address's earlier cases."""

    #: The open case it joins, or None for a new case.
    join: Case | None
    #: Requests of this kind in the window, this one included.
    count: int
    #: Earlier cases of the same kind (references, oldest first).
    history: tuple[str, ...]
    #: Count at or above the threshold: staff are told (Art. 12(5)).
    repetitive: bool


def same_request(case: Case, new: CaseData, intents: Sequence[str]) -> bool:
    """The case asks for the same thing about the same person: the same intents and
    sub-intents, the same identifiers (so the same subject) and the same proposed changes."""
    data = case_data(case)
    return (
        set(case.intents) == {str(i) for i in intents}
        and set(data.rights) == set(new.rights)
        and {i.lower() for i in data.identifiers} == {i.lower() for i in new.identifiers}
        and set(data.changes) == set(new.changes)
    )


def decide(
    earlier: Sequence[Case], new: CaseData, intents: Sequence[str], *, threshold: int
) -> Repeat:
    """Join the newest open case of the same request, count the stream.

    Args:
        earlier: the address's cases in the window or still open (`store.requester_cases`).
        new: the new request's case data (identifiers, sub-intents, changes).
        threshold: requests of one kind in the window that make a repetitive stream.
    """
    same = [c for c in earlier if same_request(c, new, intents)]
    open_ = [c for c in same if is_open(c.state)]
    count = sum(1 + case_data(c).joined for c in same) + 1
    return Repeat(
        join=open_[-1] if open_ else None,
        count=count,
        history=tuple(c.reference for c in same),
        repetitive=count >= threshold,
    )
