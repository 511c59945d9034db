"""The outbox worker: sends once, retries transient failures, fails visibly, re-claims leases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from bot.work.outbox import OutboxWorker, TransientSendError
from storage import audit
from storage.audit import AuditEvent
from storage.db import create_engine, session_factory
from storage.models import Outbox, utcnow


@pytest.fixture
async def engine(case_store_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(case_store_url)
    yield eng
    await eng.dispose()


async def _add(engine: AsyncEngine, n: int = 1) -> None:
    async with session_factory(engine)() as s, s.begin():
        for i in range(n):
            s.add(Outbox(kind="mail", template="ack", payload={"i": i}, message_id=f"<m{i}@x>"))


async def _rows(engine: AsyncEngine) -> list[Outbox]:
    async with session_factory(engine)() as s:
        return list((await s.exec(select(Outbox).order_by(Outbox.id))).all())


async def test_sends_each_row_once(engine: AsyncEngine) -> None:
    await _add(engine, 3)
    sent: list[str | None] = []

    async def send(row: Outbox) -> None:
        sent.append(row.message_id)

    worker = OutboxWorker(engine=engine, dispatch={"mail": send}, worker_id="w1")
    assert await worker.run_once() == 3
    assert await worker.run_once() == 0
    assert sent == ["<m0@x>", "<m1@x>", "<m2@x>"]
    assert {r.status for r in await _rows(engine)} == {"sent"}
    assert (await audit.verify(engine)).count == 3


async def test_transient_failure_is_retried_then_fails_visibly(engine: AsyncEngine) -> None:
    await _add(engine)

    async def refuse(row: Outbox) -> None:
        raise TransientSendError("451 try later")

    worker = OutboxWorker(engine=engine, dispatch={"mail": refuse}, worker_id="w1", max_attempts=2)
    await worker.run_once()
    row = (await _rows(engine))[0]
    assert row.status == "pending" and row.attempts == 1 and "451" in (row.last_error or "")
    async with session_factory(engine)() as s, s.begin():  # make it due now
        fresh = await s.get(Outbox, row.id)
        assert fresh is not None
        fresh.next_attempt_at = utcnow() - timedelta(seconds=1)
    await worker.run_once()
    row = (await _rows(engine))[0]
    assert row.status == "failed" and row.attempts == 2
    async with session_factory(engine)() as s:
        actions = [e.action for e in (await s.exec(select(AuditEvent))).all()]
    assert actions == ["mail_failed"]


async def test_permanent_failure_fails_at_once(engine: AsyncEngine) -> None:
    await _add(engine)

    async def reject(row: Outbox) -> None:
        raise ValueError("550 no such user")

    await OutboxWorker(engine=engine, dispatch={"mail": reject}, worker_id="w1").run_once()
    assert (await _rows(engine))[0].status == "failed"


async def test_a_lease_left_by_a_dead_worker_is_reclaimed_with_the_same_message_id(
    engine: AsyncEngine,
) -> None:
    await _add(engine)
    dead = OutboxWorker(engine=engine, dispatch={"mail": lambda r: None}, worker_id="dead")  # type: ignore[dict-item]
    claimed = await dead.claim()  # then the process "dies" before sending
    assert len(claimed) == 1
    sent: list[str | None] = []

    async def send(row: Outbox) -> None:
        sent.append(row.message_id)

    alive = OutboxWorker(engine=engine, dispatch={"mail": send}, worker_id="alive")
    assert await alive.run_once() == 0  # still leased
    async with session_factory(engine)() as s, s.begin():
        row = await s.get(Outbox, claimed[0].id)
        assert row is not None
        row.next_attempt_at = utcnow() - timedelta(seconds=1)  # the lease runs out
    assert await alive.run_once() == 1
    assert sent == ["<m0@x>"]
