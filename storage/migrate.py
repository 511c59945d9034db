"""Run and check the case store's Alembic migrations programmatically (`dsr db upgrade`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import create_engine, normalise_url
from storage.errors import SchemaError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str, desk_role: str | None = None) -> Config:
    """An in-memory Alembic config pointing at our migrations and `url`; `desk_role` names the
    desk's PostgreSQL role when an administrator migrates (migration 0005 grants it)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    if desk_role:
        cfg.set_main_option("dsr_desk_role", desk_role)
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise SchemaError("no migrations found in the package; the install is broken")
    return head


def upgrade(url: str, revision: str = "head", *, desk_role: str | None = None) -> None:
    """Migrate the case store at `url` to `revision` (synchronous; runs its own event loop).
    With `desk_role`, `url` is an administrator's and the desk's role is granted its rights."""
    command.upgrade(alembic_config(url, desk_role), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """`upgrade` from inside a running event loop (Alembic's env runs its own loop)."""
    await asyncio.to_thread(upgrade, url, revision)


def _current(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current)
    finally:
        await engine.dispose()


async def check_current(url: str) -> None:
    """Raise `SchemaError` naming the fix unless the database is at the head revision."""
    current, head = await current_revision(url), head_revision()
    if current != head:
        raise SchemaError(
            f"the case store is at migration {current or 'none'} but this version needs {head}; "
            "run `dsr db upgrade` (the Procfile's release step does this)"
        )
