"""`dsr inbox list|show|retry`: the mailbox records that need a person (unreadable, too large,
broken in processing), read without opening the mailbox, and put back after a fix."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import inbox
from bot.settings import Settings
from storage.db import create_engine, session_factory
from storage.models import RecordKind

inbox_app = typer.Typer(help="Mailbox records that need a person.", no_args_is_help=True)
T = TypeVar("T")


def _run(ctx: typer.Context, fn: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    settings = ctx.obj
    assert isinstance(settings, Settings)

    async def go() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await fn(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


@inbox_app.command("list")
def list_cmd(
    ctx: typer.Context,
    kind: Annotated[
        list[RecordKind] | None,
        typer.Option(help="Kinds to list (repeatable); default: unparseable, oversize, error."),
    ] = None,
) -> None:
    """Records that need a person, newest first (number, kind, time, size, digest, case)."""
    rows = _run(ctx, lambda s: inbox.entries(s, tuple(kind) if kind else inbox.ATTENTION))
    if not rows:
        typer.echo("nothing needs a person")
    for e in rows:
        case = f"DSR-{e.case_id}" if e.case_id else "-"
        typer.echo(
            f"{e.id:<7} {e.kind:<12} {e.received_at:%Y-%m-%d %H:%M} {e.size:>9} B "
            f"sha256:{e.sha256[:16]} {case:<9} {e.error or ''}"
        )


@inbox_app.command("show")
def show_cmd(
    ctx: typer.Context,
    record: Annotated[int, typer.Argument(help="Record number from `dsr inbox list`.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the raw message to this .eml file.")
    ] = None,
) -> None:
    """The raw message of one record (to stdout, or to a file to open in a mail program)."""
    data = _run(ctx, lambda s: inbox.raw(s, record))
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {len(data)} bytes to {out}")


@inbox_app.command("retry")
def retry_cmd(
    ctx: typer.Context,
    record: Annotated[int, typer.Argument(help="Record number from `dsr inbox list`.")],
    actor: Annotated[str | None, typer.Option(help="Who acts (audited).")] = None,
) -> None:
    """Put an unparseable or failed record back for processing by `dsr run` (audited)."""
    who = f"cli:{actor or getpass.getuser()}"[:128]
    typer.echo(_run(ctx, lambda s: inbox.retry(s, record, who)))


def register(app: typer.Typer) -> None:
    """Add `inbox`."""
    app.add_typer(inbox_app, name="inbox")
