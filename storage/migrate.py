"""Run and check the case store's Alembic migrations programmatically (`dsr db upgrade`).

Checking (`check_current`, on every command that opens the store) reads the migration files'
`revision`/`down_revision` lines and the `alembic_version` table directly: importing Alembic
costs more than the rest of a `dsr store …` command, so only `upgrade` imports it.
"""

from __future__ import annotations

import asyncio
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import create_engine, normalise_url
from storage.errors import SchemaError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(r'^(down_revision|revision)\b[^=]*=\s*(?:"([^"]*)"|None)', re.M)


def alembic_config(url: str, desk_role: str | None = None) -> Config:
    """An in-memory Alembic config pointing at our migrations and `url`; `desk_role` names the
    desk's PostgreSQL role when an administrator migrates (the audit lockdown grants it)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    if desk_role:
        cfg.set_main_option("dsr_desk_role", desk_role)
    return cfg


@cache
def head_revision() -> str:
    """The newest migration shipped with this version (the one no other revises).

    Raises:
        SchemaError: no single head (a broken install, or two branches not merged).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION.findall(path.read_text(encoding="utf-8")))
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise SchemaError(
            f"the packaged migrations have {len(heads)} heads ({sorted(heads)}); the install is "
            "broken, or two migration branches need merging (`alembic merge`)"
        )
    return str(heads.pop())


def upgrade(url: str, revision: str = "head", *, desk_role: str | None = None) -> None:
    """Migrate the case store at `url` to `revision` (synchronous; runs its own event loop).
    With `desk_role`, `url` is an administrator's and the desk's role is granted its rights."""
    from alembic import command

    command.upgrade(alembic_config(url, desk_role), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """`upgrade` from inside a running event loop (Alembic's env runs its own loop)."""
    await asyncio.to_thread(upgrade, url, revision)


async def current_revision(url: str, engine: AsyncEngine | None = None) -> str | None:
    """The revision the database is at, or None when it was never migrated (on `engine` when
    given: a command that goes on to use it saves a connection)."""
    own = engine is None
    engine = engine or create_engine(url)
    try:
        async with engine.connect() as conn:
            try:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
            except DBAPIError as exc:
                if "alembic_version" in str(exc.orig):  # no such table: never migrated
                    return None
                raise
            return str(rows[0][0]) if len(rows) == 1 else None
    finally:
        if own:
            await engine.dispose()


async def check_current(url: str, engine: AsyncEngine | None = None) -> None:
    """Raise `SchemaError` naming the fix unless the database is at the head revision."""
    current, head = await current_revision(url, engine), head_revision()
    if current != head:
        raise SchemaError(
            f"the case store is at migration {current or 'none'} but this version needs {head}; "
            "run `dsr db upgrade` (the Procfile's release step does this)"
        )
