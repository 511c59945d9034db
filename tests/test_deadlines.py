"""Art. 12(3) deadlines: one calendar month, clamped to month end; extensions up to two months."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.case.deadlines import due_date, extended_due


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 15), date(2027, 1, 15)),
        (date(2026, 2, 28), date(2026, 3, 28)),
    ],
    ids=str,
)
def test_due_date(received: date, due: date) -> None:
    assert due_date(received) == due


def test_extension_adds_at_most_two_months() -> None:
    assert extended_due(date(2026, 1, 31), 2) == date(2026, 4, 30)
    with pytest.raises(ValueError, match="1 or 2"):
        extended_due(date(2026, 1, 31), 3)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_due_is_28_to_31_days_later(received: date) -> None:
    assert 28 <= (due_date(received) - received).days <= 31
