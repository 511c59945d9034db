"""Builds a `Desk` from settings: case store, customer store executor, classifier model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.case.policy import Policy
from bot.settings import Settings
from bot.work.desk import Desk
from intents.classify import load_model
from storage.customer import Executor
from storage.datamap import load_datamap
from storage.db import create_engine, session_factory
from storage.migrate import check_current
from storage.retention import RetentionLedger


@asynccontextmanager
async def open_executor(settings: Settings) -> AsyncIterator[tuple[Executor, AsyncEngine]]:
    """The executor over the customer store and the case-store engine; disposes both on exit.

    Raises:
        DataMapError: the data map is invalid or does not fit the customer database.
        SchemaError: the case store is not migrated (names `dsr db upgrade`).
    """
    datamap = load_datamap(settings.datamap)
    await check_current(settings.database_url)
    engine = create_engine(settings.database_url)
    customers = create_engine(settings.customer_database_url)
    try:
        yield await Executor.open(customers, datamap, RetentionLedger(engine)), engine
    finally:
        await customers.dispose()
        await engine.dispose()


@asynccontextmanager
async def open_desk(settings: Settings, *, packages_dir: Path | None = None) -> AsyncIterator[Desk]:
    """Open every store the pipeline needs and load the classifier; disposes them on exit.

    Raises:
        SchemaError, DataMapError: as `open_executor`.
        SettingsError: DSR_SECRET_KEY is missing.
    """
    key = settings.secret_key_bytes()
    async with open_executor(settings) as (executor, engine):
        model = await asyncio.to_thread(
            load_model, threshold=settings.classify_threshold, margin=settings.classify_margin
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
