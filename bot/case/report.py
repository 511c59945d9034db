"""The compliance report: requests by intent and state, deadlines kept or missed, time to close.
Pure summarising over case rows; `bot/cli_report.py` loads them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.case.lifecycle import is_open
from storage.models import Case

#: A customer mail not accepted for longer than this is reported to staff (Slack, `dsr report`).
STUCK_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Report:
    """Figures a privacy team reports to its DPO or an auditor."""

    total: int
    by_state: dict[str, int] = field(default_factory=dict)
    by_intent: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, int] = field(default_factory=dict)
    open_overdue: list[str] = field(default_factory=list)
    closed_late: list[str] = field(default_factory=list)
    extended: int = 0
    median_days_to_close: float | None = None
    # inbound mail records by kind that need a person (unparseable, oversize, error) or wait
    # for processing (pending); `dsr inbox list` shows them
    inbound: dict[str, int] = field(default_factory=dict)
    # customer mails not accepted by the mail server for more than a day, as "DSR-n:template"
    # (`dsr outbox list` shows why)
    mail_delayed: list[str] = field(default_factory=list)


def summarise(
    cases: Iterable[Case],
    today: date,
    inbound: Mapping[str, int] | None = None,
    mail_delayed: Iterable[str] = (),
) -> Report:
    """Summarise cases as of `today`, with the counts of inbound records worth a look and the
    customer mails delayed for more than a day."""
    rows = list(cases)
    durations = []
    overdue, late = [], []
    for case in rows:
        if is_open(case.state):
            if case.effective_due < today:
                overdue.append(case.reference)
        elif case.closed_at is not None:
            durations.append((case.closed_at - case.received_at).total_seconds() / 86_400)
            if case.closed_at.date() > case.effective_due:
                late.append(case.reference)
    return Report(
        total=len(rows),
        by_state=dict(Counter(c.state for c in rows).most_common()),
        by_intent=dict(Counter(i for c in rows for i in c.intents).most_common()),
        by_language=dict(Counter(c.language or "?" for c in rows).most_common()),
        open_overdue=overdue,
        closed_late=late,
        extended=sum(1 for c in rows if c.extended_to is not None),
        median_days_to_close=round(statistics.median(durations), 2) if durations else None,
        inbound={k: v for k, v in (inbound or {}).items() if v},
        mail_delayed=list(mail_delayed),
    )
