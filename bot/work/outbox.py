"""The outbox worker: claims due rows, hands each to the sender for its kind, records the result.

Rows are claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL) and leased: a row left in `sending`
by a killed process is sent again after the lease, with the same Message-ID, so a customer never
gets two different copies and nothing is lost.

A temporary failure is never final while the row's case is open: it is retried with exponential
back-off capped at an hour for as long as it takes (`max_attempts` only bounds rows of closed
cases and rows without a case). A permanent refusal marks the row `failed`, audited, on the case
card and in `dsr outbox list`; `dsr outbox retry` sends it again. When the server accepts a
case's last result mail (`completes`), the case becomes `done` in the same transaction.
Once the server accepted a mail carrying an access package, the package's files are deleted
from the desk (audited `package_removed` with the sent row; the files go after that commit).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession
from structlog.contextvars import bound_contextvars

from bot.case import store
from bot.case.lifecycle import CaseState, Event, is_open, transition
from bot.case.messages import slack_item
from bot.case.recipients import TEMPLATES
from bot.work.recipients import on_delivered
from mail.retry import retry_delay, should_retry
from storage import audit
from storage.customer.access import remove_package
from storage.db import conflict, session_factory
from storage.models import Outbox, OutboxStatus, reference_of, utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
#: How often recording a send is tried when PostgreSQL cancels it for another transaction.
CONFLICT_ATTEMPTS = 5
#: Templates whose rows carry a recipient task (mail or webhook): delivery moves the task.
TASK_TEMPLATES = frozenset(TEMPLATES.values())


class TransientSendError(Exception):
    """A send failed in a way that may succeed later (4xx, network)."""


Dispatch = Callable[[Outbox], Awaitable[None]]


@dataclass
class OutboxWorker:
    """Sends what the pipeline wrote to the outbox.

    Args:
        engine: the case store.
        dispatch: sender per outbox `kind` ("mail", "slack").
        worker_id: names the claimant in the row (process id + host).
        max_attempts: after this many temporary failures a row of a closed case (or of no
            case) is `failed`; rows of open cases keep trying, hourly.
        announce: post a case card update when a delivery completes a case (Slack configured).
        domain: the domain of our Message-IDs (for rows the completion writes).
    """

    engine: AsyncEngine
    dispatch: Mapping[str, Dispatch]
    worker_id: str
    max_attempts: int = 8
    batch: int = 20
    idle_wait: float = 0.5
    lease: timedelta = LEASE
    concurrency: int = 8
    announce: bool = False
    domain: str = "dsr.invalid"
    # The live desk instances (`bot.work.instance`): rows a dead one was sending are due now.
    alive: Callable[[], Awaitable[Collection[str]]] | None = None

    async def claim(self) -> list[Outbox]:
        """Lease up to `batch` due rows to this worker (committed before sending)."""
        now = utcnow()
        alive = await self.alive() if self.alive is not None else None
        async with session_factory(self.engine)() as session, session.begin():
            rows = await store.claim_outbox(
                session,
                list(self.dispatch),
                now=now,
                lease_until=now + self.lease,
                worker=self.worker_id,
                limit=self.batch,
                alive=alive,
            )
        return rows

    async def _finish(self, row: Outbox, error: BaseException | None) -> None:
        delivered = await self._record(row, error)
        for folder in delivered:
            # The customer has the package now; the desk keeps no copy of it.
            await asyncio.to_thread(remove_package, folder)

    async def _record(self, row: Outbox, error: BaseException | None) -> list[Path]:
        """Record the send's result; returns the package folders the accepted mail carried.

        The mail is out already: a transaction PostgreSQL cancels for another (a deadlock
        between two desks) is run again at once, not left for the lease to run out (which
        would send the mail twice)."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return await self._record_once(row, error)
            except DBAPIError as exc:
                if not conflict(exc) or attempt == CONFLICT_ATTEMPTS:
                    raise
                log.warning("outbox %s: recording was cancelled by a deadlock; again", row.id)
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    async def _record_once(self, row: Outbox, error: BaseException | None) -> list[Path]:
        async with session_factory(self.engine)() as session, session.begin():
            current = await store.held_outbox_row(session, row.id, self.worker_id)
            if current is None:
                return []  # someone re-claimed it after our lease ran out
            ref = reference_of(current.case_id) if current.case_id else None
            if error is None:
                current.status, current.sent_at, current.last_error = (
                    OutboxStatus.SENT,
                    utcnow(),
                    None,
                )
                context = current.payload.get("context")
                if isinstance(context, dict) and "code" in context:
                    # The code was kept (sealed, with the payload) only to write the mail: from
                    # now on, its hash only.
                    kept = {k: v for k, v in context.items() if k != "code"}
                    current.payload = {**current.payload, "context": kept}
                await audit.append(
                    session,
                    action=f"{current.kind}_sent",
                    actor="system",
                    case_ref=ref,
                    details={"outbox_id": current.id, "template": current.template},
                )
                packages = sorted(
                    {str(Path(p).parent) for p in current.payload.get("attachments") or []}
                )
                if packages:
                    await audit.append(
                        session,
                        action="package_removed",
                        actor="system",
                        case_ref=ref,
                        details={"outbox_id": current.id, "reason": "delivered"},
                    )
                await store.save_outbox_row(session, current)
                if current.template in TASK_TEMPLATES and current.case_id is not None:
                    await on_delivered(session, current, announce=self.announce, domain=self.domain)
                if current.payload.get("completes") and current.case_id is not None:
                    await self._complete(session, current)
                return [Path(p) for p in packages]
            elif isinstance(error, TransientSendError) and (
                should_retry(current.attempts, transient=True, max_attempts=self.max_attempts)
                or await self._case_open(session, current)
            ):
                current.status = OutboxStatus.PENDING
                current.last_error = type(error).__name__ + ": " + str(error)[:500]
                current.next_attempt_at = utcnow() + retry_delay(
                    current.attempts, rand=random.random()
                )
            else:
                current.status, current.last_error = (
                    OutboxStatus.FAILED,
                    type(error).__name__ + ": " + str(error)[:500],
                )
                await audit.append(
                    session,
                    action=f"{current.kind}_failed",
                    actor="system",
                    case_ref=ref,
                    details={
                        "outbox_id": current.id,
                        "template": current.template,
                        "attempts": current.attempts,
                        "error": type(error).__name__,
                    },
                )
                log.error(
                    "outbox %s (%s, %s) failed after %s attempts: %s",
                    current.id,
                    current.kind,
                    ref,
                    current.attempts,
                    type(error).__name__,
                )
            await store.save_outbox_row(session, current)
            return []

    async def _case_open(self, session: AsyncSession, row: Outbox) -> bool:
        """Whether the row must keep trying: its case is open, or it carries a recipient task
        still waiting for its answer (a done case's recipients are told all the same)."""
        if row.case_id is None:
            return False
        if is_open((await store.get_case(session, row.case_id)).state):
            return True
        return await store.open_recipient_task_for_outbox(session, row.id)

    async def _complete(self, session: AsyncSession, row: Outbox) -> None:
        """The server accepted a result mail: once every result mail of its case is accepted,
        the case is done (same transaction as the row's `sent`)."""
        assert row.case_id is not None
        rows = await store.outbox_of_case(session, row.case_id)
        waiting = [
            r
            for r in rows
            if r.kind == "mail" and r.payload.get("completes") and r.status != OutboxStatus.SENT
        ]
        if waiting:
            return
        case = await store.get_case(session, row.case_id, for_update=True)
        if case.state != CaseState.APPROVED:
            return  # e.g. a resend after staff closed the case another way
        await transition(
            session,
            case,
            Event.COMPLETE,
            actor="system",
            details={"delivered": sorted({r.template for r in rows if r.payload.get("completes")})},
            changes={"next_action_at": None},
            outbox=[slack_item("case_card", case=case.reference)] if self.announce else [],
            domain=self.domain,
        )

    async def _send(self, row: Outbox) -> None:
        case = reference_of(row.case_id) if row.case_id else None
        with bound_contextvars(outbox=row.id, case=case):
            try:
                await self.dispatch[row.kind](row)
            except Exception as exc:  # recorded on the row and retried or failed, never lost
                await self._finish(row, exc)
            else:
                await self._finish(row, None)

    async def run_once(self) -> int:
        """Claim one batch and send it, up to `concurrency` messages at a time.

        Returns:
            How many rows were handled.
        """
        rows = await self.claim()
        gate = asyncio.Semaphore(self.concurrency)
        # One case's mails leave in the order they were written (the acknowledgement before
        # the challenge, the challenge before the result); different cases' in parallel.
        by_case: dict[tuple[str, int | None], list[Outbox]] = {}
        for row in rows:
            key = ("case", row.case_id) if row.case_id is not None else ("row", row.id)
            by_case.setdefault(key, []).append(row)

        async def in_order(group: list[Outbox]) -> None:
            for row in sorted(group, key=lambda r: r.id or 0):
                async with gate:
                    await self._send(row)

        async with asyncio.TaskGroup() as tg:
            for group in by_case.values():
                tg.create_task(in_order(group))
        return len(rows)

    async def run(self) -> None:
        """Work the outbox until cancelled."""
        while True:
            if await self.run_once() == 0:
                await asyncio.sleep(self.idle_wait)
