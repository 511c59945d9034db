"""Transitions: state, audit event and outbox rows land together or not at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import func, select

from bot.case.lifecycle import CaseState, Event, open_case, transition
from bot.case.messages import OutboxItem
from bot.case.store import get_case
from bot.errors import CaseNotFound, IllegalTransition
from storage import audit
from storage.audit import AuditEvent
from storage.db import create_engine, session_factory
from storage.errors import ConcurrentUpdateError
from storage.models import Case, Outbox


@pytest.fixture
async def engine(case_store_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(case_store_url)
    yield eng
    await eng.dispose()


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    async with session_factory(engine)() as s:
        events = (await s.exec(select(func.count()).select_from(AuditEvent))).one()
        outbox = (await s.exec(select(func.count()).select_from(Outbox))).one()
    return int(events), int(outbox)


async def _new_case(engine: AsyncEngine) -> Case:
    async with session_factory(engine)() as s, s.begin():
        return await open_case(s, actor="system", channel="email")


async def test_open_and_move_case_writes_audit_and_outbox(engine: AsyncEngine) -> None:
    case = await _new_case(engine)
    assert case.reference == f"DSR-{case.id}"
    assert (case.due_on - case.received_at.date()).days >= 28
    async with session_factory(engine)() as s, s.begin():
        loaded = await get_case(s, case.reference)
        await transition(
            s,
            loaded,
            Event.CLASSIFY,
            actor="system",
            outbox=[OutboxItem("mail", "challenge", {"lang": "en"}, message_id="<a@x>")],
        )
    async with session_factory(engine)() as s:
        again = await get_case(s, case.id or 0)
        assert again.state == CaseState.AWAITING_VERIFICATION and again.version == 1
    assert await _counts(engine) == (2, 1)
    assert (await audit.verify(engine)).ok


async def test_failure_after_transition_leaves_nothing_half_written(engine: AsyncEngine) -> None:
    case = await _new_case(engine)
    before = await _counts(engine)
    duplicate = OutboxItem("mail", "ack", {}, message_id="<dup@x>")
    with pytest.raises(IntegrityError):
        async with session_factory(engine)() as s, s.begin():
            loaded = await get_case(s, case.id or 0)
            await transition(
                s, loaded, Event.CLASSIFY, actor="system", outbox=[duplicate, duplicate]
            )
    async with session_factory(engine)() as s:
        assert (await get_case(s, case.id or 0)).state == CaseState.RECEIVED
    assert await _counts(engine) == before
    assert (await audit.verify(engine)).ok


async def test_illegal_transition_writes_nothing(engine: AsyncEngine) -> None:
    case = await _new_case(engine)
    before = await _counts(engine)
    with pytest.raises(IllegalTransition, match=case.reference):
        async with session_factory(engine)() as s, s.begin():
            loaded = await get_case(s, case.id or 0)
            await transition(s, loaded, Event.COMPLETE, actor="system")
    assert await _counts(engine) == before


async def test_stale_copy_cannot_move_the_case(engine: AsyncEngine) -> None:
    case = await _new_case(engine)
    async with session_factory(engine)() as s:
        stale = await get_case(s, case.id or 0)
    async with session_factory(engine)() as s, s.begin():
        await transition(s, await get_case(s, case.id or 0), Event.TRIAGE, actor="system")
    with pytest.raises(ConcurrentUpdateError):
        async with session_factory(engine)() as s, s.begin():
            await transition(s, stale, Event.CLASSIFY, actor="system")


async def test_unknown_case(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as s:
        with pytest.raises(CaseNotFound, match="DSR-999"):
            await get_case(s, "DSR-999")
