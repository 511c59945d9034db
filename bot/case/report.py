"""The compliance report: requests by intent and state, deadlines kept or missed, time to close.
Pure summarising over case rows (and, for a month, the audit log's counts); `bot/cli/report.py`
loads them and `bot/cli/month.py` draws the month.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.case.lifecycle import is_open
from storage.models import Case, CaseState

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


# -- the month at a glance (`dsr report --month`) ---------------------------------------------

#: days-to-close buckets for the chart; the one-month deadline falls at 28-31 days
CLOSE_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("0-7", 0, 7),
    ("8-14", 8, 14),
    ("15-21", 15, 21),
    ("22-31", 22, 31),
    ("32-60", 32, 60),
    ("61-90", 61, 90),
    (">90", 91, 10**6),
)
VERIFICATION_ACTIONS = {
    "case_verify": "verified by code",
    "case_verify_manually": "verified by staff",
    "verification_refused": "code refused",
    "case_expire": "expired unverified",
}


@dataclass(frozen=True)
class MonthReport:
    """One month's requests (received in it) and the log's events in it."""

    month: str
    total: int
    by_intent: dict[str, int]
    by_channel: dict[str, int]
    by_language: dict[str, int]
    close_buckets: dict[str, int]
    closed: int
    closed_in_time: int
    still_open: int
    open_overdue: list[str]
    closed_late: list[str]
    extended: list[str]
    rejected: int
    reject_reasons: dict[str, int]
    verification: dict[str, int]
    recipients_told: int  # recipient tasks sent or done by hand (Art. 19)
    retention_purges: int | None  # None: not tracked yet


@dataclass(frozen=True)
class MonthEvents:
    """What the month report reads from the audit log: counts by action and reject reasons."""

    actions: dict[str, int] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)


def summarise_month(
    month: str, cases: Iterable[Case], events: MonthEvents, today: date
) -> MonthReport:
    """The month report, pure: `cases` received in `month` (YYYY-MM), `events` logged in it."""
    rows = list(cases)
    buckets = dict.fromkeys((b[0] for b in CLOSE_BUCKETS), 0)
    overdue, late, extended = [], [], []
    closed = in_time = 0
    for case in rows:
        if case.extended_to is not None:
            extended.append(case.reference)
        if is_open(case.state):
            if case.effective_due < today:
                overdue.append(case.reference)
            continue
        if case.closed_at is None:
            continue
        closed += 1
        days = (case.closed_at - case.received_at).days
        label = next(name for name, low, high in CLOSE_BUCKETS if low <= days <= high)
        buckets[label] += 1
        if case.closed_at.date() > case.effective_due:
            late.append(case.reference)
        else:
            in_time += 1
    actions = events.actions
    # Told: a mail or webhook delivered, or staff told one by hand (Art. 19).
    recipients = actions.get("recipient_task_sent", 0) + actions.get(
        "recipient_task_done_by_hand", 0
    )
    purges = sum(n for a, n in actions.items() if "retention" in a or "purge" in a)
    return MonthReport(
        month=month,
        total=len(rows),
        by_intent=dict(Counter(i for c in rows for i in c.intents).most_common()),
        by_channel=dict(Counter(c.channel for c in rows).most_common()),
        by_language=dict(Counter(c.language or "?" for c in rows).most_common()),
        close_buckets=buckets,
        closed=closed,
        closed_in_time=in_time,
        still_open=sum(1 for c in rows if is_open(c.state)),
        open_overdue=overdue,
        closed_late=late,
        extended=extended,
        rejected=sum(1 for c in rows if c.state == CaseState.REJECTED),
        reject_reasons=dict(Counter(events.reject_reasons).most_common()),
        verification={label: actions.get(a, 0) for a, label in VERIFICATION_ACTIONS.items()},
        recipients_told=recipients,
        retention_purges=purges or None,
    )
