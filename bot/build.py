"""Builds a `Desk` from settings: case store, customer store executor, classifier model.

The classifier (spaCy) is imported only by `open_desk`, so commands that need just the stores
(`dsr store …`) start without it. A database that cannot be reached becomes one
`DatabaseUnavailable` naming its variable, not a driver's traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError

from bot.errors import DatabaseUnavailable
from bot.settings import Settings
from storage import sealing
from storage.customer import Executor
from storage.customer.schema_cache import SchemaCache
from storage.datamap import load_datamap
from storage.db import create_engine, session_factory
from storage.ledger import CoreLedger
from storage.migrate import check_current

# The desk (and all it imports) only for `open_desk`; SQLAlchemy's asyncio layer and the ORM
# only for `open_executor`: `dsr store` starts without them (`open_store`).
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.work.desk import Desk
    from storage.bridge import BridgeEngine

T = TypeVar("T")
E = TypeVar("E")


async def reach(variable: str, url: str, step: Awaitable[T]) -> T:
    """Await `step` (the first use of the database at `url`), naming `variable` if it fails.

    Raises:
        DatabaseUnavailable: the server is down, unknown, refuses us, or the file cannot open.
    """
    try:
        return await step
    except (OSError, DBAPIError) as exc:
        raise DatabaseUnavailable.at(variable, url, exc) from None


@asynccontextmanager
async def open_executor(settings: Settings) -> AsyncIterator[tuple[Executor, AsyncEngine]]:
    """The executor over the customer store and the case-store engine; disposes both on exit.

    Raises:
        DataMapError: the data map is invalid or does not fit the customer database.
        SchemaError: the case store is not migrated (names `dsr db upgrade`).
    """
    from storage.retention import RetentionLedger

    async with _opened(settings, create_engine, RetentionLedger) as opened:
        yield opened


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[tuple[Executor, BridgeEngine]]:
    """As `open_executor`, on synchronous Core engines (`storage.bridge`) with the Core ledger:
    the same checks, queries and rows for a short `dsr store` process, which then starts
    without SQLAlchemy's asyncio layer, the ORM, SQLModel, asyncpg and greenlets. Every await
    in it completes at once (run it with `storage.bridge.run_now`).

    Raises:
        DataMapError, SchemaError, DatabaseUnavailable: as `open_executor`.
    """
    from storage.bridge import create_bridge

    async with _opened(settings, create_bridge, CoreLedger) as opened:
        yield opened


@asynccontextmanager
async def _opened(
    settings: Settings, make_engine: Callable[[str], E], make_ledger: Callable[[E], Any]
) -> AsyncIterator[tuple[Executor, E]]:
    """Both stores on engines `make_engine` builds: the case store checked to be migrated, the
    executor over the customer store (its ledger in the case store); disposed on exit."""
    datamap = load_datamap(settings.datamap)
    engine = make_engine(settings.database_url)
    customers = make_engine(settings.customer_database_url)
    # The stores are opened with these settings' keys (the demo brings its own DSR_SECRET_KEY).
    sealed = sealing.use_keyring(settings.keyring())
    try:
        await reach(
            "DSR_DATABASE_URL",
            settings.database_url,
            check_current(settings.database_url, engine),  # type: ignore[arg-type]
        )
        executor = await reach(
            "DSR_CUSTOMER_DATABASE_URL",
            settings.customer_database_url,
            Executor.open(
                customers,  # type: ignore[arg-type]
                datamap,
                make_ledger(engine),
                cache=SchemaCache.keyed(settings.cache_dir, settings.secret_key_bytes()),
            ),
        )
        yield executor, engine
    finally:
        await customers.dispose()  # type: ignore[attr-defined]
        await engine.dispose()  # type: ignore[attr-defined]
        sealing.reset_keyring(sealed)


@asynccontextmanager
async def open_desk(
    settings: Settings, *, packages_dir: Path | None = None, with_model: bool = True
) -> AsyncIterator[Desk]:
    """Open every store the pipeline needs and load the classifier; disposes them on exit.

    Raises:
        SchemaError, DataMapError: as `open_executor`.
        SettingsError: DSR_SECRET_KEY is missing.
    """
    import asyncio  # `dsr store` runs without an event loop

    from bot.case.policy import Policy
    from bot.work.desk import Desk

    key = settings.secret_key_bytes()
    async with open_executor(settings) as (executor, engine):
        model = None
        if with_model:  # spaCy: only the desk itself and the demo classify
            from intents.classify import load_model

            model = await asyncio.to_thread(
                load_model,
                threshold=settings.classify_threshold,
                margin=settings.classify_margin,
                cache_dir=settings.cache_dir,
            )
        yield Desk(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            executor=executor,
            model=model,
            key=key,
            policy=Policy(four_eyes_delete=settings.four_eyes_delete),
            packages_dir=packages_dir or Path("var/packages"),
        )
