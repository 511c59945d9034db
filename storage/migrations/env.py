"""Alembic environment for the case store (async engines, URL passed in by `storage.migrate`)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import storage.audit_event
import storage.models
import storage.retention
import storage.rotation
from storage.db import create_engine

_ = (
    storage.audit_event,
    storage.models,
    storage.retention,
    storage.rotation,
)  # register the tables on the metadata
target_metadata = SQLModel.metadata


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Turn SQLite's foreign-key enforcement off or on, outside any transaction (a PRAGMA
    inside one is ignored): batch mode copies a table to change a column's type, and SQLite
    refuses to drop a table other rows refer to while enforcement is on."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
        if on:
            cursor.execute("PRAGMA foreign_key_check")
            broken = cursor.fetchall()
            if broken:
                raise RuntimeError(f"a migration left rows pointing nowhere: {broken[:5]}")
    finally:
        cursor.close()


def _run(connection: Connection) -> None:
    own = connection.dialect.name == "sqlite" and not connection.in_transaction()
    if own:
        _sqlite_foreign_keys(connection, on=False)
    try:
        _migrate(connection)
    finally:
        if own:
            _sqlite_foreign_keys(connection, on=True)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    """Run against the URL given in the Alembic config's `sqlalchemy.url`."""
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to the migration environment")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(url))


run_migrations_online()
