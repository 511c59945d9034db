"""Async engines for the case store and the customer store, SQLite or PostgreSQL by URL.

SQLite gets WAL, foreign keys, a busy timeout and `BEGIN IMMEDIATE` transactions, so that
writers serialise at BEGIN instead of failing on lock upgrade (the audit chain relies on it).
The wait for the write lock is cut into short slices so that a stopping desk is never stuck in
SQLite's busy handler (see `configure_sqlite`).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

# SQLAlchemy's asyncio layer (and the ORM it brings) only when an engine is built: `dsr store`
# reads URLs from here but runs on storage.bridge.
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/dsr.db"


def is_sqlite(url: str) -> bool:
    """True for any SQLite URL."""
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Pick the async driver for a plain URL (postgresql -> asyncpg, sqlite -> aiosqlite)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.get_driver_name() != "aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql" and parsed.get_driver_name() != "asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


#: How long a transaction waits for SQLite's write lock before "database is locked".
BUSY_TIMEOUT = 30.0
#: One wait inside SQLite's busy handler, in ms. The handler's sleep runs in C on the driver's
#: thread and nothing cuts it short (`sqlite3.Connection.interrupt()` does not; cancelling the
#: awaiting task does not either), so a long one held a stopping desk for the whole timeout.
BUSY_SLICE_MS = 100


def configure_sqlite(engine: Engine, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
    """WAL, foreign keys and `BEGIN IMMEDIATE` on every connection of a (synchronous) SQLite
    engine: the desk's async engines and `storage.bridge`'s share them.

    BEGIN waits up to `busy_timeout` seconds for the write lock (another transaction's), in
    `BUSY_SLICE_MS` slices retried from Python: between two slices an async caller is back at an
    await, where cancelling it (a desk told to stop) takes effect at once, and its connection is
    free to roll back and close within one slice.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook issue BEGIN itself (pysqlite's own handling defers it).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # Opening may wait on another connection's recovery or last checkpoint: the full wait.
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # In WAL, once BEGIN IMMEDIATE holds the write lock nothing else waits on a lock: BEGIN
        # is where the wait happens, and `_on_begin` retries the slices up to `busy_timeout`.
        cur.execute(f"PRAGMA busy_timeout={BUSY_SLICE_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        deadline = time.monotonic() + busy_timeout
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if not locked(exc) or time.monotonic() >= deadline:
                    raise


def locked(exc: BaseException) -> bool:
    """True when SQLite answered SQLITE_BUSY (another connection holds the lock)."""
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def create_engine(url: str, *, echo: bool = False, pool_size: int = 5) -> AsyncEngine:
    """Build an async engine; creates the parent directory of a SQLite file.

    Args:
        url: SQLAlchemy URL; sync driver names are mapped to their async twins.
        echo: log SQL (never in production: statements may carry personal data).
        pool_size: connections kept for PostgreSQL.
    """
    from sqlalchemy.ext.asyncio import create_async_engine

    url = normalise_url(url)
    parsed = make_url(url)
    if is_sqlite(url):
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo)
        configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    from sqlalchemy.ext.asyncio import async_sessionmaker
    from sqlmodel.ext.asyncio.session import AsyncSession

    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


#: PostgreSQL's answers to two transactions that wait on each other: one of them is cancelled
#: (deadlock_detected, serialization_failure) and succeeds when run again.
CONFLICT_STATES = frozenset({"40P01", "40001"})


def conflict(exc: BaseException) -> bool:
    """True when the database cancelled this transaction for another one (a deadlock or a
    serialization failure): running the transaction again is the cure."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in CONFLICT_STATES
