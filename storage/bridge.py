"""Synchronous SQLAlchemy Core engines behind the small part of the async API the store uses.

A `dsr store` command is one short process: it needs neither SQLAlchemy's asyncio layer (which
pulls in the ORM), nor greenlets, nor asyncpg. `BridgeEngine` runs the same async code of the
executor, the ledger and the audit append on a plain Core engine with a synchronous driver
(psycopg2 for PostgreSQL, the standard sqlite3 for SQLite); every `await` finishes at once.
SQLite gets the same pragmas and `BEGIN IMMEDIATE` as `storage.db`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import URL, Connection, Dialect, Engine, Result, make_url

from storage.db import configure_sqlite


def sync_url(url: str) -> URL:
    """The URL with the synchronous driver: postgresql -> psycopg2, sqlite -> pysqlite."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg2")
    return parsed


class BridgeResult:
    """A streamed result read in partitions (`AsyncResult.partitions`)."""

    def __init__(self, result: Result[Any]) -> None:
        self._result = result

    async def partitions(self, size: int | None = None) -> AsyncIterator[Sequence[Any]]:
        """The rows, `size` (or the statement's `yield_per`) at a time."""
        for part in self._result.partitions(size):
            yield part


class BridgeConnection:
    """The `AsyncConnection` methods the store uses, over a synchronous `Connection`."""

    def __init__(self, conn: Connection, engine: BridgeEngine) -> None:
        self.sync_connection, self.engine = conn, engine

    @property
    def dialect(self) -> Dialect:
        """The database's dialect."""
        return self.sync_connection.dialect

    @property
    def sync_engine(self) -> Engine:
        """The synchronous engine (the audit append keys its cache by it)."""
        return self.engine.sync_engine

    async def execute(
        self, statement: Any, parameters: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> Result[Any]:
        """Run a statement; the rows are read from the returned result."""
        return self.sync_connection.execute(statement, parameters)

    async def exec_driver_sql(self, sql: str, parameters: Any = None) -> Result[Any]:
        """Run a plain SQL string."""
        return self.sync_connection.exec_driver_sql(sql, parameters)

    async def scalar(self, statement: Any, parameters: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row."""
        return self.sync_connection.scalar(statement, parameters)

    async def stream(
        self, statement: Any, parameters: Mapping[str, Any] | None = None
    ) -> BridgeResult:
        """A result read in partitions, through a server-side cursor where the driver has one
        (bounded memory however many rows)."""
        streamed = statement.execution_options(stream_results=True)
        return BridgeResult(self.sync_connection.execute(streamed, parameters))

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call `fn(sync_connection, …)`."""
        return fn(self.sync_connection, *args, **kwargs)

    async def execution_options(self, **options: Any) -> BridgeConnection:
        """Set options on this connection (e.g. `isolation_level`)."""
        self.sync_connection.execution_options(**options)
        return self

    async def commit(self) -> None:
        """Commit the transaction in progress."""
        self.sync_connection.commit()

    async def rollback(self) -> None:
        """Roll back the transaction in progress."""
        self.sync_connection.rollback()

    async def close(self) -> None:
        """Return the connection."""
        self.sync_connection.close()


class BridgeEngine:
    """The `AsyncEngine` methods the store uses (`connect`, `begin`, `dispose`, `url`,
    `dialect`), over a synchronous Core engine."""

    def __init__(self, engine: Engine) -> None:
        self.sync_engine = engine

    @property
    def url(self) -> URL:
        """The engine's URL."""
        return self.sync_engine.url

    @property
    def dialect(self) -> Dialect:
        """The database's dialect."""
        return self.sync_engine.dialect

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[BridgeConnection]:
        """A connection; a transaction it began and did not commit is rolled back."""
        with self.sync_engine.connect() as conn:
            yield BridgeConnection(conn, self)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[BridgeConnection]:
        """A connection in a transaction, committed on success, rolled back on error."""
        with self.sync_engine.begin() as conn:
            yield BridgeConnection(conn, self)

    async def dispose(self) -> None:
        """Close the pool's connections."""
        self.sync_engine.dispose()


def create_bridge(url: str) -> BridgeEngine:
    """A `BridgeEngine` for `url` (any of the desk's URL forms; async drivers are swapped for
    synchronous ones); the pool keeps the one connection a command reuses. Creates the parent
    directory of a SQLite file, as `storage.db.create_engine` does."""
    parsed = sync_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = create_sync_engine(parsed)
        configure_sqlite(engine)
        return BridgeEngine(engine)
    return BridgeEngine(create_sync_engine(parsed, pool_size=1))


def run_now(coro: Any) -> Any:
    """Run a coroutine that never suspends (everything it awaits is a bridge call) without an
    event loop.

    Raises:
        RuntimeError: the coroutine did suspend (it awaited real I/O).
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise RuntimeError("a bridged command awaited real I/O; run it with asyncio.run")


__all__ = [
    "BridgeConnection",
    "BridgeEngine",
    "BridgeResult",
    "create_bridge",
    "run_now",
    "sync_url",
]
