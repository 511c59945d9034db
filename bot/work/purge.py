"""Purging the desk's own records of people: a closed case's personal content goes once
`DSR_CASE_RETENTION` has passed since its close (hourly, `dsr cases purge`), or at once when the
person's own erasure request is carried out.

A purge keeps the case row's reference, intents, dates and outcome and the pseudonymous audit
events, and removes the mails, addresses, change values, outbox payloads, leftover access
package files and the Slack card's text (the card is edited to the reference and outcome). Each
case is purged in one transaction with its `case_purged` audit event (no personal data), files
first: a crash midway leaves the case unpurged, and the next run does it whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.case import store
from bot.case.data import case_data
from bot.case.lifecycle import CLOSED_STATES
from bot.case.messages import slack_item
from bot.errors import CaseNotFound, CaseStillOpen
from bot.work.desk import Desk
from mail.maildir import remove_messages
from storage import audit
from storage.customer.access import DeskRequest, remove_package
from storage.datamap import period_cutoff, period_end
from storage.models import Case, OutboxStatus, utcnow

log = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class PurgeRun:
    """The cases a run purged (or, dry, would purge), by reference."""

    references: tuple[str, ...]
    dry_run: bool = False


async def _remove_sent_copies(desk: Desk, case_id: int) -> int:
    """Without an SMTP relay the outbox Maildir is where mail was "sent": the case's copies there
    go with the case's content."""
    if desk.settings.smtp_host:
        return 0
    async with desk.sessions() as session:
        rows = await store.outbox_of_case(session, case_id)
    ids = [r.message_id for r in rows if r.kind == "mail" and r.message_id]
    if not ids:
        return 0
    return await asyncio.to_thread(remove_messages, desk.settings.outbox_maildir, ids)


def retention_cutoff(period: str, now: datetime) -> datetime:
    """Cases closed before this have been kept for `period` (pure)."""
    return period_cutoff(period, now)


async def purge_case(
    desk: Desk, case_id: int, *, reason: str, actor: str = "system", now: datetime | None = None
) -> bool:
    """Purge one closed case's personal content (idempotent).

    Args:
        reason: why, for the audit log: `retention` or `subject_erasure`.

    Returns:
        False when the case was purged already.

    Raises:
        CaseStillOpen: the case is open (its content is still needed).
    """
    now = now or utcnow()
    ref = f"DSR-{case_id}"
    async with desk.sessions() as session:
        current = await store.get_case(session, case_id)
    if current.state not in CLOSED_STATES:
        raise CaseStillOpen(f"{ref} is {current.state}; only a closed case can be purged")
    if current.purged_at is not None:
        return False
    # Files first: a crash after this and before the commit leaves the case for the next run.
    files = await asyncio.to_thread(remove_package, desk.packages_dir / ref)
    copies = await _remove_sent_copies(desk, case_id)
    async with desk.sessions() as session, session.begin():
        case = await store.get_case(session, case_id, for_update=True)
        if case.purged_at is not None:
            return False
        removed = await store.purge_case_content(
            session, case, case_data(case).purged().to_json(), now
        )
        closed = case.closed_at.date().isoformat() if case.closed_at else None
        await audit.append(
            session,
            action="case_purged",
            actor=actor,
            case_ref=ref,
            details={
                "reason": reason,
                "closed": closed,
                "state": str(case.state),
                "package_files": len(files),
                "sent_copies": copies,
                **removed.as_details(),
            },
        )
        if desk.slack_enabled and case.slack_ts:
            await store.add_outbox(
                session,
                None,
                [slack_item("case_purged", case=ref)],
                domain=desk.settings.own_domain,
            )
    log.info("%s purged (%s)", ref, reason)
    return True


def purge_date(period: str, closed: datetime) -> datetime:
    """When a case closed at `closed` loses its personal content (pure)."""
    return period_end(period, closed)


async def earlier_cases(desk: Desk, case: Case, addresses: Sequence[str]) -> list[Case]:
    """The person's other cases the desk holds: about an address on file (by its keyed
    pseudonym) or asked from one of their addresses; oldest first, `case` itself left out."""
    pseudonyms = {desk.pseudonym(a) for a in addresses}
    async with desk.sessions() as session:
        found = await store.cases_of_subject(
            session, pseudonyms=pseudonyms, addresses=list(addresses)
        )
    return [c for c in found if c.id != case.id]


def as_desk_request(case: Case) -> DeskRequest:
    """How the person's access package shows one of their cases (pure): no content, only the
    reference, dates, what was asked and how it ended."""
    outcome = str(case.state) if case.state in CLOSED_STATES else "open"
    return DeskRequest(
        reference=case.reference,
        received=case.received_at.date(),
        closed=case.closed_at.date() if case.closed_at and outcome != "open" else None,
        intents=tuple(case.intents),
        outcome=outcome,
    )


async def desk_requests(desk: Desk, case: Case, addresses: Sequence[str]) -> list[DeskRequest]:
    """What the desk holds about the person, for their access package: every request of theirs
    it knows, this one included, oldest first."""
    others = await earlier_cases(desk, case, addresses)
    return [as_desk_request(c) for c in sorted([*others, case], key=lambda c: c.id or 0)]


async def erase_desk_records(desk: Desk, case: Case, addresses: Sequence[str]) -> int:
    """The subject's own erasure reaches the desk: purge the personal content of their earlier
    closed cases now (open ones keep theirs until they close). Idempotent.

    Returns:
        How many earlier closed cases of the person hold no personal content any more.
    """
    erased = 0
    for other in await earlier_cases(desk, case, addresses):
        if other.state not in CLOSED_STATES or other.id is None:
            continue
        if other.purged_at is None:
            await purge_case(desk, other.id, reason="subject_erasure")
        erased += 1
    return erased


async def sweep_packages(desk: Desk) -> list[str]:
    """Remove access packages left behind: their mail was accepted (a crash came between the
    `sent` commit and the removal), or their case closed without sending them. Audited.

    Returns:
        The references whose package was removed.
    """
    root = desk.packages_dir
    names = await asyncio.to_thread(lambda: sorted(p.name for p in root.glob("DSR-*")))
    removed: list[str] = []
    for name in names:
        number = name.removeprefix("DSR-")
        if not number.isdigit():
            continue
        async with desk.sessions() as session:
            try:
                case = await store.get_case(session, int(number))
            except CaseNotFound:
                continue
            rows = await store.package_mails(session, int(number))
        if any(r.status != OutboxStatus.SENT for r in rows):
            continue  # still on its way to the customer
        if not rows and case.state not in CLOSED_STATES:
            continue  # being written for a case at work (its mail row comes with the move)
        files = await asyncio.to_thread(remove_package, root / name)
        if not files:
            continue
        async with desk.sessions() as session, session.begin():
            await audit.append(
                session,
                action="package_removed",
                actor="system",
                case_ref=name,
                details={"reason": "sweep", "files": len(files)},
            )
        removed.append(name)
    return removed


async def purge_loose_records(desk: Desk, *, now: datetime | None = None) -> int:
    """Drop the raw text of mail records of no case (robots, stray replies) received longer
    than `DSR_CASE_RETENTION` ago; one `records_purged` event when there were any."""
    cutoff = retention_cutoff(desk.settings.case_retention, now or utcnow())
    async with desk.sessions() as session, session.begin():
        count = await store.purge_loose_records(session, received_before=cutoff)
        if count:
            await audit.append(
                session,
                action="records_purged",
                actor="system",
                case_ref=None,
                details={"reason": "retention", "records": count},
            )
    return count


async def purge_expired(
    desk: Desk, *, now: datetime | None = None, dry_run: bool = False, actor: str = "system"
) -> PurgeRun:
    """Purge every closed case kept longer than `DSR_CASE_RETENTION`, a batch at a time.

    Returns:
        The references purged, or with `dry_run` those that would be (nothing changes).
    """
    now = now or utcnow()
    cutoff = retention_cutoff(desk.settings.case_retention, now)
    done: list[str] = []
    seen: set[int] = set()
    while True:
        async with desk.sessions() as session:
            batch: list[Case] = await store.purgeable_cases(
                session, closed_before=cutoff, limit=BATCH + len(seen) if dry_run else BATCH
            )
        fresh = [c for c in batch if c.id is not None and c.id not in seen]
        if not fresh:
            break
        for case in fresh:
            assert case.id is not None
            seen.add(case.id)
            if dry_run or await purge_case(desk, case.id, reason="retention", actor=actor, now=now):
                done.append(case.reference)
    return PurgeRun(tuple(done), dry_run)
