"""Sealing at rest (`storage.sealing`): round trips, tampering caught and named by the case,
key ids and rotation, lookups by keyed hash, the settings that make the keys, and the rows of a
store migrated from before sealing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.case import store
from bot.errors import SettingsError
from bot.settings import load_settings
from storage import rotation, sealing
from storage.db import create_engine, session_factory
from storage.errors import SealError
from storage.migrate import upgrade_async
from storage.models import Case, CaseState, InboundMessage, Outbox
from storage.sealing import Keyring, kid_of

SECRET = os.environ["DSR_SECRET_KEY"]
DSR = str(Path(sys.executable).with_name("dsr"))
KEYS = Keyring.from_secrets([], SECRET.encode())


@pytest.fixture
async def engine(case_store_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(case_store_url)
    yield eng
    await eng.dispose()


def _raw(table: str, column: str, binary: bool = False) -> sa.Table:
    kind: Any = sa.LargeBinary() if binary else sa.Text()
    return sa.Table(
        table, sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column(column, kind)
    )


async def _stored(engine: AsyncEngine, table: str, column: str, binary: bool = False) -> Any:
    raw = _raw(table, column, binary)
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(raw.c[column]).order_by(raw.c.id))).scalars().first()


async def _overwrite(engine: AsyncEngine, table: str, column: str, value: Any) -> None:
    raw = _raw(table, column, isinstance(value, bytes))
    async with engine.begin() as conn:
        await conn.execute(sa.update(raw).values({column: value}))


async def _case(engine: AsyncEngine, **data: Any) -> str:
    async with session_factory(engine)() as s, s.begin():
        case = await store.insert_case(
            s,
            Case(
                state=CaseState.RECEIVED,
                due_on=date(2027, 1, 1),
                requester_address="alice@example.org",
                data={"identifiers": ["alice@example.org"], **data},
            ),
        )
        return case.reference


# -- the envelope -------------------------------------------------------------------------


@given(st.text())
def test_text_round_trip_and_no_clear_in_the_envelope(text: str) -> None:
    sealed = KEYS.seal_text(text, "t.c")
    assert sealed.startswith(f"v1:{KEYS.newest}:")
    assert KEYS.open_text(sealed, "t.c") == text
    if len(text) >= 4:
        assert text not in sealed[12:]


@given(st.binary())
def test_bytes_round_trip(data: bytes) -> None:
    sealed = KEYS.seal_bytes(data, "t.c")
    assert kid_of(sealed) == KEYS.newest
    assert KEYS.open_bytes(sealed, "t.c") == data


def test_the_same_value_seals_differently_each_time() -> None:
    assert KEYS.seal_text("alice@example.org", "t.c") != KEYS.seal_text("alice@example.org", "t.c")


def test_a_value_opens_only_in_its_own_column() -> None:
    sealed = KEYS.seal_text("alice@example.org", "outbox.payload")
    with pytest.raises(SealError, match=r"dsr_case\.data failed its integrity check"):
        KEYS.open_text(sealed, "dsr_case.data")


def test_a_value_in_clear_is_refused_except_by_the_rotation_pass() -> None:
    with pytest.raises(SealError, match=r"t\.c is in clear .* run `dsr keys rotate`"):
        KEYS.open_text('{"a": 1}', "t.c")
    with pytest.raises(SealError, match="in clear"):
        KEYS.open_bytes(b"From: x", "t.c")
    assert KEYS.open_text('{"a": 1}', "t.c", legacy=True) == '{"a": 1}'
    assert KEYS.open_bytes(b"From: x", "t.c", legacy=True) == b"From: x"


# -- tampering ----------------------------------------------------------------------------


async def test_a_changed_sealed_value_is_caught_and_named_by_its_case(engine: AsyncEngine) -> None:
    ref = await _case(engine)
    stored = await _stored(engine, "dsr_case", "data")
    assert stored.startswith("v1:") and "alice" not in stored
    flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    await _overwrite(engine, "dsr_case", "data", flipped)
    async with session_factory(engine)() as s:
        with pytest.raises(SealError) as caught:
            await store.get_case(s, ref)
    message = str(caught.value)
    assert message.startswith(f"{ref}: ") and "dsr_case.data" in message
    assert "integrity" in message and "alice" not in message


async def test_a_value_written_in_clear_past_the_desk_is_caught(engine: AsyncEngine) -> None:
    ref = await _case(engine)
    await _overwrite(engine, "dsr_case", "data", '{"identifiers": ["mallory@evil.example"]}')
    async with session_factory(engine)() as s:
        with pytest.raises(SealError, match=rf"^{ref}: .*dsr_case\.data is in clear"):
            await store.get_case(s, ref)


async def test_a_sealed_value_moved_to_another_column_is_caught(engine: AsyncEngine) -> None:
    ref = await _case(engine)
    async with session_factory(engine)() as s, s.begin():
        s.add(Outbox(kind="mail", template="t", payload={"to": "mallory@evil.example"}))
    payload = await _stored(engine, "outbox", "payload")
    await _overwrite(engine, "dsr_case", "data", payload)
    async with session_factory(engine)() as s:
        with pytest.raises(SealError, match=ref):
            await store.get_case(s, ref)


# -- keys ---------------------------------------------------------------------------------


async def test_old_keys_open_until_rotated_then_the_new_one_alone(engine: AsyncEngine) -> None:
    ref = await _case(engine, changes=[["phone", "+49 30 1234567"]])
    new = Keyring.from_secrets(["n" * 40], SECRET.encode())
    assert new.kids == (new.newest, KEYS.newest)  # the default key still opens, last
    newest_only = Keyring(new.keys[:1], None)
    token = sealing.use_keyring(newest_only)
    try:
        async with session_factory(engine)() as s:
            with pytest.raises(SealError, match="put the old key back"):
                await store.get_case(s, ref)
    finally:
        sealing.reset_keyring(token)
    report = await rotation.rotate(engine, new, batch=1)
    assert report.finished and report.resealed["dsr_case.data"] == 1
    assert kid_of(await _stored(engine, "dsr_case", "data")) == new.newest
    assert await rotation.stale(engine, new) == dict.fromkeys(report.resealed, 0)
    token = sealing.use_keyring(newest_only)
    try:
        async with session_factory(engine)() as s:
            case = await store.get_case(s, ref)
        assert case.requester_address == "alice@example.org"
        assert case.data["changes"] == [["phone", "+49 30 1234567"]]
    finally:
        sealing.reset_keyring(token)
    again = await rotation.rotate(engine, new)  # finished: nothing left to do
    assert again.finished and again.total == 0


async def test_a_stopped_rotation_resumes_where_it_was(engine: AsyncEngine) -> None:
    for _ in range(5):
        await _case(engine)
    new = Keyring.from_secrets(["m" * 40], SECRET.encode())
    first = await rotation.rotate(engine, new, batch=2, max_batches=1)
    assert not first.finished and first.total == 2  # requester_address of cases 1 and 2
    rest = await rotation.rotate(engine, new, batch=2)
    assert rest.finished
    assert rest.resealed["dsr_case.requester_address"] == 3
    assert rest.resealed["dsr_case.data"] == 5


# -- lookups ------------------------------------------------------------------------------


async def test_records_are_found_by_the_keyed_hash_of_their_message_id(
    engine: AsyncEngine,
) -> None:
    mid = "<request-1@alice.example.org>"
    async with session_factory(engine)() as s, s.begin():
        await store.add_record(s, InboundMessage(message_id=mid, sha256="d" * 64, raw=b"x"))
    stored = await _stored(engine, "inbound_message", "message_id")
    assert stored == KEYS.lookup_hash(mid) and "alice" not in stored
    async with session_factory(engine)() as s:
        found = await store.find_record(s, mid)
        assert found is not None and found.raw == b"x"
        assert await store.stored_digests(s, [mid, "<other@x>"]) == {mid: "d" * 64}
    other = Keyring.from_secrets([], b"another-secret-key-of-at-least-32-chars")
    assert other.lookup_hash(mid) != KEYS.lookup_hash(mid)


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [("short", "at least 32"), ("k" * 40 + "," + "k" * 40, "same key twice")],
    ids=["short", "twice"],
)
def test_a_wrong_data_key_stops_start_up_naming_it(value: str, words: str) -> None:
    with pytest.raises(SettingsError, match=rf"DSR_DATA_KEY: .*{words}"):
        load_settings(data_key=value)


def test_the_keyring_follows_the_settings() -> None:
    default = load_settings().keyring()
    assert default is not None and default.newest == KEYS.newest
    listed = load_settings(data_key=f"{'a' * 40}, {'b' * 40}").keyring()
    assert listed is not None
    assert listed.kids == (
        Keyring.from_secrets(["a" * 40], None).newest,
        Keyring.from_secrets(["b" * 40], None).newest,
        KEYS.newest,
    )
    assert load_settings(secret_key=None).keyring() is None


# -- a store from before sealing ----------------------------------------------------------


async def test_db_upgrade_seals_the_rows_of_a_store_from_before_sealing(
    empty_db_url: str,
) -> None:
    await upgrade_async(empty_db_url, "0007_audit_lockdown")
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            tables = await conn.run_sync(
                lambda c: {t: sa.Table(t, sa.MetaData(), autoload_with=c) for t in _OLD_ROWS}
            )
            for name, row in _OLD_ROWS.items():
                await conn.execute(tables[name].insert().values(**row))
    finally:
        await engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env |= {"DSR_DATABASE_URL": empty_db_url, "DSR_SECRET_KEY": SECRET}
    done = await asyncio.to_thread(
        subprocess.run,
        [DSR, "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "sealed 5 values written before sealing existed" in done.stdout
    engine = create_engine(empty_db_url)
    try:
        assert "alice" not in await _stored(engine, "dsr_case", "data")
        assert "alice" not in await _stored(engine, "dsr_case", "requester_address")
        assert b"alice" not in await _stored(engine, "inbound_message", "raw", binary=True)
        assert await _stored(engine, "inbound_message", "message_id") == KEYS.lookup_hash(
            "<old@alice.example.org>"
        )
        async with session_factory(engine)() as s:
            case = await store.get_case(s, "DSR-1")
            assert case.requester_address == "alice@example.org"
            assert case.data == {"identifiers": ["alice@example.org"]}
            found = await store.find_record(s, "<old@alice.example.org>")
            assert found is not None and found.raw == b"From: alice@example.org\r\n\r\nhi"
            (row,) = await store.outbox_of_case(s, 1)
            assert row.payload == {"to": "alice@example.org"}
    finally:
        await engine.dispose()


_NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
_OLD_ROWS: dict[str, dict[str, Any]] = {
    "dsr_case": {
        "id": 1,
        "state": "received",
        "intents": ["access"],
        "scores": {},
        "needs_review": False,
        "channel": "email",
        "requester_address": "alice@example.org",
        "received_at": _NOW,
        "due_on": date(2027, 1, 1),
        "data": {"identifiers": ["alice@example.org"]},
        "round": 0,
        "version": 0,
        "created_at": _NOW,
        "updated_at": _NOW,
    },
    "inbound_message": {
        "message_id": "<old@alice.example.org>",
        "case_id": 1,
        "channel": "email",
        "kind": "request",
        "size": 30,
        "sha256": "e" * 64,
        "raw": b"From: alice@example.org\r\n\r\nhi",
        "truncated": False,
        "received_at": _NOW,
    },
    "outbox": {
        "case_id": 1,
        "kind": "mail",
        "template": "ack",
        "payload": {"to": "alice@example.org"},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": _NOW,
        "created_at": _NOW,
    },
}


async def test_dsr_names_the_case_of_a_damaged_value_and_fails(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    env |= {
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dsr.db'}",
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
        "DSR_SECRET_KEY": SECRET,
    }

    def dsr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DSR, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
        )

    for step in (("db", "upgrade"), ("store", "seed", "--customers", "2")):
        done = await asyncio.to_thread(dsr, *step)
        assert done.returncode == 0, done.stderr
    engine = create_engine(env["DSR_DATABASE_URL"])
    try:
        ref = await _case(engine)
        stored = await _stored(engine, "dsr_case", "data")
        await _overwrite(engine, "dsr_case", "data", stored[:-6] + "AAAAAA")
    finally:
        await engine.dispose()
    shown = await asyncio.to_thread(dsr, "cases", "show", ref)
    assert shown.returncode == 1, shown.stderr
    assert f"{ref}: the sealed value in dsr_case.data failed its integrity check" in shown.stderr
    assert "alice" not in shown.stderr and "Traceback" not in shown.stderr
