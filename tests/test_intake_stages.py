"""Intake in two stages on a real case store (SQLite and PostgreSQL): recording keeps every
message once; processing opens one case per record however often it runs; nothing is lost."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import col, func, select
from typer.testing import CliRunner

import bot.work.intake
from bot.cli.main import app
from bot.settings import load_settings
from bot.work.desk import Desk
from bot.work.intake import ingest, process_recorded, record
from intents.classify import IntentModel
from mail.intake import Fetched, Outcome
from storage import audit
from storage.audit import AuditEvent
from storage.errors import ConcurrentUpdateError
from storage.models import Case, InboundMessage, RecordKind
from storage.sealing import lookup_hash
from tests.agent_harness import CUSTOMERS, SECRET, letter, open_test_desk

T = TypeVar("T")


@pytest.fixture
async def desk(
    case_store_url: str, intent_model: IntentModel, tmp_path: Path
) -> AsyncIterator[Desk]:
    settings = load_settings(
        database_url=case_store_url,
        customer_database_url=f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
        secret_key=SECRET,
        max_message_bytes=20_000,
    )
    d = await open_test_desk(settings, intent_model, tmp_path)
    yield d
    await d.executor.engine.dispose()
    await d.engine.dispose()


async def _rows(desk: Desk) -> list[InboundMessage]:
    async with desk.sessions() as s:
        return list((await s.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).all())


async def _cases(desk: Desk) -> int:
    async with desk.sessions() as s:
        return int((await s.exec(select(func.count()).select_from(Case))).one())


def _fetched(raw: bytes, n: int = 1, **kw: object) -> Fetched:
    return Fetched(raw, source=f"test:{n}", **kw)  # type: ignore[arg-type]


async def test_record_keeps_each_message_once_and_raw(desk: Desk) -> None:
    a = letter("alice@example.org", "data", "Please send me a copy of my personal data.")
    b = letter("bob@example.org", "stop", "Stop sending me your newsletter.")
    outcomes = await record(desk, [_fetched(a, 1), _fetched(a, 2), _fetched(b, 3)])
    assert outcomes == [Outcome.PROCESSED] * 3
    assert await record(desk, [_fetched(a, 4)]) == [Outcome.PROCESSED]  # redelivered later
    rows = await _rows(desk)
    assert [r.kind for r in rows] == [RecordKind.PENDING, RecordKind.PENDING]
    assert [r.raw for r in rows] == [a, b]
    assert desk.inbound_ready.is_set()  # stage two is woken, not left to its poll


async def test_processing_opens_one_case_per_record_even_when_run_twice_at_once(
    desk: Desk,
) -> None:
    raws = [
        letter(f"{name}@example.org", "data", "Please send me a copy of my personal data.")
        for name in ("alice", "bob", "carol")
    ]
    await record(desk, [_fetched(r, i) for i, r in enumerate(raws)])
    await asyncio.gather(process_recorded(desk), process_recorded(desk))
    assert await process_recorded(desk) == 0
    rows = await _rows(desk)
    assert [r.kind for r in rows] == ["request"] * 3
    assert all(r.case_id is not None for r in rows)
    assert len({r.case_id for r in rows}) == 3
    assert await _cases(desk) == 3


async def test_a_reused_message_id_cannot_hide_another_message(desk: Desk) -> None:
    first = letter("alice@example.org", "data", "Please send me a copy of my personal data.")
    forged = first.replace(b"alice@example.org", b"mallory@example.org")
    assert first != forged
    await record(desk, [_fetched(first, 1)])
    await record(desk, [_fetched(forged, 2), _fetched(first, 3)])
    await process_recorded(desk)
    rows = await _rows(desk)
    assert [r.raw for r in rows] == [first, forged]
    # only the keyed hash of a Message-ID is stored: the forged copy got its synthetic one
    assert rows[1].message_id == lookup_hash(f"<{rows[1].sha256}@dsr.invalid>")
    assert rows[1].error == "its Message-ID was already used by another message"
    assert [r.kind for r in rows] == ["request", "request"]
    assert await _cases(desk) == 2


async def test_ingest_of_a_message_already_recorded_is_a_duplicate(desk: Desk) -> None:
    raw = letter("alice@example.org", "erase", "Please delete my account.")
    first = await ingest(desk, _fetched(raw))
    again = await ingest(desk, _fetched(raw, 2))
    assert (first.kind, again.kind) == ("request", "duplicate")
    assert first.case_ref is not None
    assert await _cases(desk) == 1


async def test_blank_message_goes_to_quarantine_and_is_kept(desk: Desk) -> None:
    assert await record(desk, [_fetched(b"  \r\n\r\n")]) == [Outcome.QUARANTINE]
    [row] = await _rows(desk)
    assert (row.kind, row.raw) == ("unparseable", b"  \r\n\r\n")
    async with desk.sessions() as s:
        actions = (await s.exec(select(AuditEvent.action))).all()
        assert "message_unparseable" in actions
    assert (await audit.verify(desk.engine)).ok


async def test_oversize_message_is_recorded_from_its_header_and_refused(desk: Desk) -> None:
    raw = letter("alice@example.org", "data", "x" * 30_000)
    head = raw.split(b"\n\n", 1)[0] + b"\n\n"
    await record(desk, [_fetched(head, size=len(raw), truncated=True)])
    await process_recorded(desk)
    [row] = await _rows(desk)
    assert (row.kind, row.size, row.truncated) == ("oversize", len(raw), True)
    assert await _cases(desk) == 0


async def test_a_record_that_breaks_processing_is_kept_and_the_rest_go_on(
    desk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    poison = letter("alice@example.org", "data", "POISON please send me my data.")
    fine = letter("bob@example.org", "data", "Please send me a copy of my personal data.")
    real = bot.work.intake.classify

    def classify(model: IntentModel, text: str) -> object:  # a bug in a later stage
        if "POISON" in text:
            raise RuntimeError("boom for alice@example.org")  # an error quoting the customer
        return real(model, text)

    monkeypatch.setattr(bot.work.intake, "classify", classify)
    await record(desk, [_fetched(poison, 1), _fetched(fine, 2)])
    assert await process_recorded(desk) == 2
    rows = await _rows(desk)
    assert [r.kind for r in rows] == ["error", "request"]
    assert rows[0].raw == poison and rows[0].error == "RuntimeError during processing"
    assert "RuntimeError at" in caplog.text and "alice@example.org" not in caplog.text
    assert await _cases(desk) == 1
    async with desk.sessions() as s:
        assert "message_failed" in (await s.exec(select(AuditEvent.action))).all()


def test_staff_list_read_and_retry_records_with_dsr_inbox(
    case_store_url: str, intent_model: IntentModel, tmp_path: Path
) -> None:
    customers = f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}"
    env = {
        "DSR_DATABASE_URL": case_store_url,
        "DSR_CUSTOMER_DATABASE_URL": customers,
        "DSR_SECRET_KEY": SECRET,
    }
    settings = load_settings(
        database_url=case_store_url, customer_database_url=customers, secret_key=SECRET
    )

    imported: list[bool] = []

    async def with_desk(fn: Callable[[Desk], Awaitable[T]]) -> T:
        d = await open_test_desk(settings, intent_model, tmp_path, () if imported else CUSTOMERS)
        imported.append(True)
        # the dsr commands below key the chain (key derived from DSR_SECRET_KEY); so does the desk
        audit.use_key(settings.audit_key_bytes())
        try:
            return await fn(d)
        finally:
            await d.executor.engine.dispose()
            await d.engine.dispose()

    asyncio.run(with_desk(lambda d: record(d, [_fetched(b"\r\n")])))
    runner = CliRunner()
    reported = json.loads(runner.invoke(app, ["report", "--json"], env=env).output)
    assert reported["inbound"] == {"unparseable": 1}
    assert "unparseable 1" in runner.invoke(app, ["report"], env=env).output
    listed = runner.invoke(app, ["inbox", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    number = listed.output.split()[0]
    assert "unparseable" in listed.output and "@" not in listed.output
    out = tmp_path / "kept.eml"
    shown = runner.invoke(app, ["inbox", "show", number, "--out", str(out)], env=env)
    assert shown.exit_code == 0 and out.read_bytes() == b"\r\n"
    retried = runner.invoke(app, ["inbox", "retry", number, "--actor", "ann"], env=env)
    assert "goes back to processing" in retried.output
    assert "nothing needs a person" in runner.invoke(app, ["inbox", "list"], env=env).output
    missing = runner.invoke(app, ["inbox", "show", "999999"], env=env)
    assert missing.exit_code != 0 and "no inbound record 999999" in missing.output
    # processed again, a blank message is still unreadable: back in the list, never lost
    asyncio.run(with_desk(process_recorded))
    assert "unparseable" in runner.invoke(app, ["inbox", "list"], env=env).output


async def test_a_transient_failure_leaves_the_record_pending_for_the_next_pass(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = letter("alice@example.org", "data", "Please send me a copy of my personal data.")
    real, calls = bot.work.intake.classify, []

    def classify(model: IntentModel, text: str) -> object:  # the case moved under us, once
        calls.append(text)
        if len(calls) == 1:
            raise ConcurrentUpdateError("DSR-1 changed while we worked on it; reload it")
        return real(model, text)

    monkeypatch.setattr(bot.work.intake, "classify", classify)
    await record(desk, [_fetched(raw)])
    assert await process_recorded(desk) == 0  # nothing finished: run_inbound waits, then retries
    assert [r.kind for r in await _rows(desk)] == [RecordKind.PENDING]
    assert await process_recorded(desk) == 1
    assert [r.kind for r in await _rows(desk)] == ["request"]
    assert await _cases(desk) == 1
