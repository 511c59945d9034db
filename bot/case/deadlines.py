"""Deadlines (GDPR Art. 12(3)): one calendar month from receipt, extendable by two more months."""

from __future__ import annotations

import calendar
from datetime import date

MAX_EXTENSION_MONTHS = 2


def add_months(day: date, months: int) -> date:
    """`day` plus whole calendar months, clamped to the month's end (31 Jan + 1 -> 28/29 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_date(received: date) -> date:
    """The legal due date for a request received on `received`."""
    return add_months(received, 1)


def extended_due(received: date, months: int) -> date:
    """The due date after extending by `months` (1 or 2).

    Raises:
        ValueError: outside 1..2 months, which Art. 12(3) does not allow.
    """
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise ValueError(
            f"an extension is 1 or {MAX_EXTENSION_MONTHS} further months (Art. 12(3)); got {months}"
        )
    return add_months(received, 1 + months)


def days_left(due: date, today: date) -> int:
    """Days until `due` (negative when overdue)."""
    return (due - today).days
