"""A step decided on a copy of a case that another desk has moved on since writes nothing and
leaves the case to be decided again (real case store on SQLite and PostgreSQL, real Dovecot).

Two desks can both hold a case: a claim whose owner looks dead (a heartbeat late under load) is
taken over. The second step must not crash its worker loop or act twice."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.case.lifecycle import CaseState
from bot.work import pipeline
from storage import audit
from storage.errors import ConcurrentUpdateError
from storage.models import Outbox
from tests.agent_harness import Harness, letter

ALICE = "alice@example.org"


async def _outbox(h: Harness) -> int:
    async with h.desk.sessions() as session:
        return int((await session.exec(select(func.count()).select_from(Outbox))).one())


async def test_a_step_on_a_stale_copy_writes_nothing(h: Harness) -> None:
    await h.receive(letter(ALICE, "my data", "Please send me a copy of my personal data."))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    stale = case.model_copy(update={"state": CaseState.RECEIVED})  # as a second desk read it
    mails = await _outbox(h)
    events = [e async for e in audit.events(h.desk.engine, case_ref=case.reference)]
    with pytest.raises(ConcurrentUpdateError, match=case.reference):
        await pipeline._route(h.desk, stale)
    assert await _outbox(h) == mails  # no second challenge, no second acknowledgement
    assert [e async for e in audit.events(h.desk.engine, case_ref=case.reference)] == events
    (after,) = await h.cases()
    assert after.state == CaseState.AWAITING_VERIFICATION and after.version == case.version
