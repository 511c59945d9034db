"""SQLite's wait for the write lock (storage.db): as long as ever for normal work, and never
holding up a task that is cancelled (a desk told to stop) while it waits."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bot.app import database_trouble
from storage.db import BUSY_SLICE_MS, configure_sqlite, create_engine, locked


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x INTEGER)")
    return path


@pytest.fixture
def locker(db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the write lock until the test releases it."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


async def test_a_transaction_waits_for_a_lock_held_for_many_slices(
    db: Path, locker: sqlite3.Connection
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        # released after 10 busy slices: BEGIN must keep trying, not fail at the first slice
        asyncio.get_running_loop().call_later(10 * BUSY_SLICE_MS / 1000, locker.rollback)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        await engine.dispose()
    assert _count(db) == 1


def test_the_wait_ends_at_the_busy_timeout_as_database_trouble(
    db: Path, locker: sqlite3.Connection
) -> None:
    engine = create_sync_engine(f"sqlite:///{db}")
    configure_sqlite(engine, busy_timeout=0.5)
    try:
        with pytest.raises(OperationalError) as caught, engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        engine.dispose()
    assert locked(caught.value) and database_trouble(caught.value)
    assert "database is locked" in str(caught.value)
    locker.rollback()
    assert _count(db) == 0


async def test_a_task_cancelled_while_it_waits_for_the_lock_lets_go_at_once(
    db: Path, locker: sqlite3.Connection
) -> None:
    """The lock stays held throughout: on a single long busy wait the cancelled task, and then
    disposing the engine, waited out the whole 30 s busy timeout."""
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    waiting = asyncio.Event()

    async def write() -> None:
        async with engine.connect() as conn:
            waiting.set()
            await conn.execute(text("INSERT INTO t VALUES (1)"))  # BEGIN waits here
            await conn.commit()

    task = asyncio.create_task(write())
    await waiting.wait()
    await asyncio.sleep(5 * BUSY_SLICE_MS / 1000)  # well inside the wait
    assert not task.done()
    task.cancel()
    # generous bounds, far below the 30 s busy timeout a stuck wait would take
    done, _ = await asyncio.wait([task], timeout=10)
    assert done == {task} and task.cancelled()
    await asyncio.wait_for(engine.dispose(), 10)
    locker.rollback()
    assert _count(db) == 0  # nothing half written
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.begin() as conn:  # and the store is as good as before
            await conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        await engine.dispose()
    assert _count(db) == 1
