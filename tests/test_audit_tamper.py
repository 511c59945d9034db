"""The rewrites of issue #18 are refused, or detected by `dsr audit verify` without `--head`:
INSERT OR REPLACE (SQLite), the desk's role disabling triggers (PostgreSQL), a chain recomputed
with plain hashes, a cut tail; plus the keyed chain's upgrade from a plain one."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from bot.cli.main import app
from storage import audit
from storage.anchors import append_head, read_heads
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.servers.postgres import PostgresServer

runner = CliRunner()
KEY = "audit-key-for-tests-0123456789abcdef"


async def _append(url: str, actions: list[str], key: bytes | None = KEY.encode()) -> None:
    engine = create_engine(url)
    token = audit.use_key(key)
    try:
        for i, action in enumerate(actions):
            async with session_factory(engine)() as session, session.begin():
                await audit.append(
                    session,
                    action=action,
                    actor="system",
                    case_ref=f"DSR-{i % 7 + 1}",
                    details={"i": i},
                )
    finally:
        audit.reset_key(token)
        await engine.dispose()


def _anchor(url: str, head_file: Path) -> tuple[int, str]:
    async def head() -> tuple[int, str]:
        engine = create_engine(url)
        try:
            found = await audit.chain_head(engine)
            assert found is not None
            return found
        finally:
            await engine.dispose()

    seq, digest = asyncio.run(head())
    append_head(head_file, KEY.encode(), seq, digest, audit.now_ts())
    return seq, digest


def _verify(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["audit", "verify", *args], env={"DSR_DATABASE_URL": url, "DSR_AUDIT_KEY": KEY}
    )
    return result.exit_code, result.output


def _head_file() -> Path:
    import os

    return Path(os.environ["DSR_AUDIT_HEAD_FILE"])


ISSUE_ACTIONS = (
    ["case_received", "case_classify"] * 20 + ["verification_refused"] * 11 + ["case_replied"] * 12
)  # 63 events, as in the issue (plus the keying event)


async def _rewrite(url: str, edit: str) -> None:
    """What an insider with the database owner's (or the file's) rights does: triggers off, then
    rewrite the log and recompute every hash with plain SHA-256 (the key is not in the database).

    `edit`: "issue" (event 5 becomes a manual verification by staff, verification_refused events
    dropped, tail cut, renumbered), "plain" (everything recomputed plain, keying event kept),
    "cut" (last 5 events deleted, nothing recomputed).
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                for name in ("no_update", "no_delete", "next_link_only"):
                    await conn.execute(text(f"DROP TRIGGER audit_event_{name}"))
            else:
                await conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
            rows = (
                await conn.execute(
                    text(
                        "SELECT seq, ts, case_ref, actor, action, details FROM audit_event "
                        "ORDER BY seq"
                    )
                )
            ).all()
            if edit == "cut":
                last = rows[-1][0]
                await conn.execute(text("DELETE FROM audit_event WHERE seq > :s"), {"s": last - 5})
                return
            kept = [list(r) for r in rows]
            if edit == "issue":
                kept[4][3], kept[4][4] = "slack:U0STAFF", "case_verified_manually"
                kept = [r for r in kept if r[4] != "verification_refused"][:52]
            await conn.execute(text("DELETE FROM audit_event"))
            prev = audit.GENESIS
            for seq, (_, ts, ref, actor, action, details) in enumerate(kept, 1):
                digest = audit.event_hash(seq, ts, ref, actor, action, details, prev)
                await conn.execute(
                    text(
                        "INSERT INTO audit_event (seq, ts, case_ref, actor, action, details, "
                        "prev_hash, hash) VALUES (:s, :ts, :r, :a, :ac, :d, :p, :h)"
                    ),
                    {
                        "s": seq,
                        "ts": ts,
                        "r": ref,
                        "a": actor,
                        "ac": action,
                        "d": details,
                        "p": prev,
                        "h": digest,
                    },
                )
                prev = digest
    finally:
        await engine.dispose()


@pytest.mark.parametrize("edit", ["issue", "plain", "cut"])
def test_rewrites_are_detected_without_head(case_store_url: str, edit: str) -> None:
    asyncio.run(_append(case_store_url, ISSUE_ACTIONS))
    seq, digest = _anchor(case_store_url, _head_file())
    assert seq == 64
    code, out = _verify(case_store_url)
    assert code == 0, out
    assert "keyed (HMAC-SHA-256) from event 1" in out
    assert f"last anchored head 64:{digest}" in out
    asyncio.run(_rewrite(case_store_url, edit))
    code, out = _verify(case_store_url)
    assert code == 1, out
    expected = {
        "issue": "BROKEN at event 1",  # the keying event no longer matches its (plain) hash
        "plain": "hashed without the audit key",
        "cut": "tail truncated",
    }[edit]
    assert expected in out


def test_plain_rewrite_without_keying_event_is_caught_by_the_anchor(case_store_url: str) -> None:
    asyncio.run(_append(case_store_url, ["case_received"] * 5))
    _anchor(case_store_url, _head_file())

    async def all_plain() -> None:  # drop the keying event too: a chain that looks legacy
        engine = create_engine(case_store_url)
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    for name in ("no_update", "no_delete", "next_link_only"):
                        await conn.execute(text(f"DROP TRIGGER audit_event_{name}"))
                else:
                    await conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
                await conn.execute(text("DELETE FROM audit_event"))
        finally:
            await engine.dispose()
        await _append(case_store_url, ["case_received"] * 6, key=None)

    asyncio.run(all_plain())
    code, out = _verify(case_store_url)
    assert code == 1, out
    assert "anchor audit-heads.jsonl:1 recorded another hash" in out


def test_edited_head_file_line_is_not_trusted(case_store_url: str) -> None:
    asyncio.run(_append(case_store_url, ["case_received"] * 3))
    _anchor(case_store_url, _head_file())
    line = json.loads(_head_file().read_text())
    line["seq"] = 2
    _head_file().write_text(json.dumps(line) + "\n")
    assert read_heads(_head_file(), KEY.encode()).problems
    code, out = _verify(case_store_url)
    assert code == 1 and "anchor not trusted" in out and "MAC does not match" in out


def test_saved_anchor_mails_are_read(case_store_url: str, tmp_path: Path) -> None:
    asyncio.run(_append(case_store_url, ["case_received"] * 4))
    seq, digest = _anchor(case_store_url, tmp_path / "unused.jsonl")
    saved = tmp_path / "mails.txt"
    saved.write_text(f"Subject: dsr-bot audit head {seq}\n\n{seq}:{digest}\n")
    code, out = _verify(case_store_url, "--anchors", str(saved))
    assert code == 0 and "checked against 1 of 1 anchors (mails.txt)" in out
    asyncio.run(_rewrite(case_store_url, "cut"))
    code, out = _verify(case_store_url, "--anchors", str(saved))
    assert code == 1 and "anchor mails.txt:3 names event 5" in out


def test_plain_chain_upgrades_to_keyed_and_keeps_verifying(case_store_url: str) -> None:
    asyncio.run(_append(case_store_url, ["case_received"] * 3, key=None))  # a legacy log
    code, out = _verify(case_store_url)
    assert code == 0 and "plain SHA-256 (not keyed yet" in out
    asyncio.run(_append(case_store_url, ["case_replied"] * 2))
    code, out = _verify(case_store_url)
    assert code == 0, out
    assert "audit log intact: 6 events" in out and "keyed (HMAC-SHA-256) from event 4" in out
    result = runner.invoke(
        app,
        ["audit", "verify"],
        env={"DSR_DATABASE_URL": case_store_url, "DSR_AUDIT_KEY": "another-key-" + "x" * 30},
    )
    assert result.exit_code == 1 and "wrong DSR_AUDIT_KEY" in result.output


def test_writing_a_keyed_chain_without_the_key_is_refused(case_store_url: str) -> None:
    asyncio.run(_append(case_store_url, ["case_received"]))
    from storage.errors import AuditWriteError

    with pytest.raises(AuditWriteError, match="keyed since event 1"):
        asyncio.run(_append(case_store_url, ["case_received"], key=None))


def _sqlite_path(url: str) -> str:
    path = make_url(url).database
    assert path
    return path


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT OR REPLACE INTO audit_event VALUES (2, 't', NULL, 'x', 'case_verified_manually',"
        " '{{}}', '{p}', '{h}')",
        "REPLACE INTO audit_event VALUES (2, 't', NULL, 'x', 'a', '{{}}', '{p}', '{h}')",
        "INSERT INTO audit_event VALUES (2, 't', NULL, 'x', 'a', '{{}}', '{p}', '{h}') "
        "ON CONFLICT(seq) DO UPDATE SET action = 'a'",
        # the next seq, but reusing a taken hash: REPLACE would delete that event
        "INSERT OR REPLACE INTO audit_event VALUES (4, 't', NULL, 'x', 'a', '{{}}', '{last}', "
        "'{taken}')",
        "INSERT INTO audit_event VALUES (5, 't', NULL, 'x', 'a', '{{}}', '{last}', '{h}')",
    ],
    ids=["insert-or-replace", "replace", "upsert", "replace-by-hash", "gap"],
)
def test_sqlite_refuses_every_insert_but_the_next_link(tmp_path: Path, sql: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    upgrade(url)
    asyncio.run(_append(url, ["case_received"] * 2))
    with sqlite3.connect(_sqlite_path(url)) as conn:
        rows = conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq").fetchall()
        filled = sql.format(p=rows[0][1], h="f" * 64, last=rows[-1][1], taken=rows[1][1])
        with pytest.raises(sqlite3.IntegrityError, match="only the next link"):
            conn.execute(filled)
        assert conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq").fetchall() == rows


# -- PostgreSQL: the desk's role may only append and read ------------------------------------


def _desk_database(server: PostgresServer, *, admin_migrates: bool) -> tuple[str, str]:
    """A database migrated (by an administrator, or by the desk itself) for a desk role."""
    import uuid

    role = f"desk_{uuid.uuid4().hex[:8]}"
    server.psql(f"CREATE ROLE {role} LOGIN" + ("" if admin_migrates else " CREATEROLE"))
    admin = server.create_database("desk")
    name = make_url(admin).database
    assert name
    if not admin_migrates:
        server.psql(f'ALTER DATABASE "{name}" OWNER TO {role}', name)
        server.psql(f"ALTER SCHEMA public OWNER TO {role}", name)
    desk = make_url(admin).set(username=role).render_as_string(hide_password=False)
    if admin_migrates:
        upgrade(admin, desk_role=role)
    else:
        upgrade(desk)
    return admin, desk


@pytest.mark.parametrize("admin_migrates", [True, False], ids=["admin-url", "desk-migrates"])
def test_desk_role_cannot_disable_triggers_or_rewrite(
    postgres_server: PostgresServer, admin_migrates: bool
) -> None:
    _, desk = _desk_database(postgres_server, admin_migrates=admin_migrates)
    asyncio.run(_append(desk, ["case_received"] * 3))  # the desk appends and reads fine

    async def attempt(sql: str) -> str:
        engine = create_engine(desk)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        except DBAPIError as exc:
            return str(exc.orig)
        finally:
            await engine.dispose()
        return "allowed"

    for sql in (
        "ALTER TABLE audit_event DISABLE TRIGGER USER",
        "ALTER TABLE audit_event DISABLE TRIGGER ALL",
        "DELETE FROM audit_event WHERE seq = 3",
        "UPDATE audit_event SET action = 'case_verified_manually' WHERE seq = 2",
        "TRUNCATE audit_event",
        "ALTER TABLE audit_event OWNER TO CURRENT_USER",
        # a schema owner may drop any table in it: refused only when the desk owns no schema
        *(["DROP TABLE audit_event"] if admin_migrates else []),
    ):
        outcome = asyncio.run(attempt(sql))
        assert "must be owner" in outcome or "permission denied" in outcome, (sql, outcome)
    code, out = _verify(desk)
    assert code == 0 and "audit log intact: 4 events" in out
