"""Repeated requests: a new request with the same intent from the same address joins the open
case; a manifestly repetitive stream (Art. 12(5)) is flagged for staff, never refused. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.case.data import case_data
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


def same_request(case: Case, intents: Sequence[str], rights: Sequence[str]) -> bool:
    """The case asks for the same thing: the same intents and sub-intents."""
    return set(case.intents) == {str(i) for i in intents} and set(case_data(case).rights) == set(
        rights
    )


def decide(
    earlier: Sequence[Case], intents: Sequence[str], rights: Sequence[str], *, threshold: int
) -> Repeat:
    """Join the newest open case of the same request, count the stream.

    Args:
        earlier: the address's cases in the window or still open (`store.requester_cases`).
        threshold: requests of one kind in the window that make a repetitive stream.
    """
    same = [c for c in earlier if same_request(c, intents, rights)]
    open_ = [c for c in same if is_open(c.state)]
    count = sum(1 + case_data(c).joined for c in same) + 1
    return Repeat(
        join=open_[-1] if open_ else None,
        count=count,
        history=tuple(c.reference for c in same),
        repetitive=count >= threshold,
    )
