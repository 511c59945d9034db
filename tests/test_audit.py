"""The audit log on SQLite and PostgreSQL: `dsr audit verify` finds every kind of tampering."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from bot.cli.main import app
from storage import audit
from storage.db import create_engine, session_factory
from storage.errors import AuditWriteError
from tests.dbutil import drop_audit_triggers_sql, raw_sql

runner = CliRunner()


async def _append_events(url: str, n: int) -> list[audit.AuditEvent]:
    engine = create_engine(url)
    out = []
    try:
        for i in range(n):
            async with session_factory(engine)() as session, session.begin():
                out.append(
                    await audit.append(
                        session,
                        action="case_received",
                        actor="system",
                        case_ref=f"DSR-{i + 1}",
                        details={"i": i, "note": "ünïcode ✓"},
                    )
                )
    finally:
        await engine.dispose()
    return out


def _verify(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", "verify", *args], env={"DSR_DATABASE_URL": url})
    return result.exit_code, result.output


@pytest.fixture
def chain(case_store_url: str) -> tuple[str, list[audit.AuditEvent]]:
    return case_store_url, asyncio.run(_append_events(case_store_url, 6))


def test_intact_chain_verifies_and_prints_head(chain: tuple[str, list[audit.AuditEvent]]) -> None:
    url, events = chain
    code, out = _verify(url)
    assert code == 0, out
    assert f"head 6:{events[-1].hash}" in out
    code, out = _verify(url, "--head", f"6:{events[-1].hash}")
    assert code == 0, out


def test_hash_is_sha256_of_canonical_event(chain: tuple[str, list[audit.AuditEvent]]) -> None:
    """An auditor can recompute a hash from the documented canonical JSON alone."""
    import hashlib

    ev = chain[1][2]
    doc = {
        "seq": ev.seq,
        "ts": ev.ts,
        "case_ref": ev.case_ref,
        "actor": ev.actor,
        "action": ev.action,
        "details": json.loads(ev.details),
        "prev_hash": ev.prev_hash,
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode()).hexdigest() == ev.hash
    assert ev.prev_hash == chain[1][1].hash


def test_triggers_refuse_update_and_delete(case_store_url: str) -> None:
    asyncio.run(_append_events(case_store_url, 2))

    async def attempt(sql: str) -> None:
        engine = create_engine(case_store_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    for sql in (
        "UPDATE audit_event SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            asyncio.run(attempt(sql))
    assert _verify(case_store_url)[0] == 0


def test_altered_detail_is_found(
    chain: tuple[str, list[audit.AuditEvent]], request: pytest.FixtureRequest
) -> None:
    url, _ = chain
    raw_sql(
        url,
        drop_audit_triggers_sql(url)
        + """
        UPDATE audit_event SET details = '{"i":99,"note":"ünïcode ✓"}' WHERE seq = 3;""",
        request,
    )
    code, out = _verify(url)
    assert code == 1
    assert "BROKEN at event 3" in out and "altered" in out


def test_deleted_middle_event_is_found(
    chain: tuple[str, list[audit.AuditEvent]], request: pytest.FixtureRequest
) -> None:
    url, _ = chain
    raw_sql(url, drop_audit_triggers_sql(url) + "DELETE FROM audit_event WHERE seq = 4;", request)
    code, out = _verify(url)
    assert code == 1
    assert "BROKEN at event 4" in out and "missing" in out


def test_two_swapped_events_are_found(
    chain: tuple[str, list[audit.AuditEvent]], request: pytest.FixtureRequest
) -> None:
    url, _ = chain
    raw_sql(
        url,
        drop_audit_triggers_sql(url)
        + """
        UPDATE audit_event SET seq = -1 WHERE seq = 2;
        UPDATE audit_event SET seq = 2 WHERE seq = 3;
        UPDATE audit_event SET seq = 3 WHERE seq = -1;""",
        request,
    )
    code, out = _verify(url)
    assert code == 1
    assert "BROKEN at event 2" in out


def test_dropped_trigger_then_rehashed_edit_is_found(
    chain: tuple[str, list[audit.AuditEvent]], request: pytest.FixtureRequest
) -> None:
    """The attacker recomputes the edited event's own hash: the next link then breaks."""
    url, events = chain
    ev = events[2]
    forged_details = '{"i":2,"note":"forged"}'
    forged = audit.event_hash(
        ev.seq, ev.ts, ev.case_ref, ev.actor, ev.action, forged_details, ev.prev_hash
    )
    raw_sql(
        url,
        drop_audit_triggers_sql(url)
        + f"UPDATE audit_event SET details = '{forged_details}', hash = '{forged}' WHERE seq = 3;",
        request,
    )
    code, out = _verify(url)
    assert code == 1
    assert "BROKEN at event 4" in out and "previous-hash" in out


def test_truncated_tail_needs_head_to_be_found(
    chain: tuple[str, list[audit.AuditEvent]], request: pytest.FixtureRequest
) -> None:
    url, events = chain
    head = f"6:{events[-1].hash}"
    raw_sql(url, drop_audit_triggers_sql(url) + "DELETE FROM audit_event WHERE seq >= 5;", request)
    assert _verify(url)[0] == 0  # a clean prefix verifies on its own...
    code, out = _verify(url, "--head", head)
    assert code == 1  # ...but not against the head recorded earlier
    assert "BROKEN at event 5" in out and "truncated" in out


def test_bad_head_argument_is_a_clear_error(case_store_url: str) -> None:
    code, out = _verify(case_store_url, "--head", "nonsense")
    assert code != 0
    assert "SEQ:HASH" in out


async def test_details_with_an_email_address_are_refused(case_store_url: str) -> None:
    engine = create_engine(case_store_url)
    try:
        async with session_factory(engine)() as session:
            with pytest.raises(AuditWriteError, match="pseudonym"):
                await audit.append(
                    session, action="x", actor="system", details={"to": "alice@example.com"}
                )
    finally:
        await engine.dispose()


def test_export_jsonl_and_csv_and_show(chain: tuple[str, list[audit.AuditEvent]]) -> None:
    url, events = chain
    env = {"DSR_DATABASE_URL": url}
    result = runner.invoke(app, ["audit", "export", "--format", "jsonl"], env=env)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [row["hash"] for row in lines] == [e.hash for e in events]
    result = runner.invoke(app, ["audit", "export", "--format", "csv", "--case", "DSR-2"], env=env)
    assert result.exit_code == 0
    rows = [r for r in result.stdout.splitlines() if r and not r.startswith("seq,")]
    assert len(rows) == 1 and rows[0].startswith("2,")
    result = runner.invoke(app, ["audit", "show", "DSR-3"], env=env)
    assert result.exit_code == 0 and "case_received" in result.stdout
