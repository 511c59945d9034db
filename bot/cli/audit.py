"""`dsr audit verify|export|show` and `dsr db upgrade`: the auditor's and operator's commands."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from sqlalchemy.engine import make_url

from bot.errors import DatabaseUnavailable, SettingsError
from bot.settings import Settings, prepare_store_dirs
from storage import audit
from storage.anchors import read_heads
from storage.db import create_engine, session_factory
from storage.migrate import check_current, upgrade

if TYPE_CHECKING:
    from storage.rotation import RotationReport

audit_app = typer.Typer(
    help="Verify, export and read the tamper-evident audit log.", no_args_is_help=True
)
db_app = typer.Typer(help="Case-store schema migrations.", no_args_is_help=True)


class ExportFormat(StrEnum):
    """Export formats."""

    jsonl = "jsonl"
    csv = "csv"


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def _parse_head(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, sep, digest = value.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise SettingsError(
            f"--head must look like SEQ:HASH (e.g. 42:3fa9…, 64 hex digits); got {value!r}"
        )
    return int(seq), digest.lower()


async def _verify(
    url: str, head: tuple[int, str] | None, anchors: list[audit.Anchor]
) -> audit.VerifyResult:
    from storage.bridge import create_bridge

    # A synchronous Core engine: verify reads, and starts without SQLAlchemy's asyncio layer.
    engine = create_bridge(url)
    try:
        await check_current(url, engine)  # type: ignore[arg-type]
        return await audit.verify(engine, head=head, anchors=anchors)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


def _read_anchors(settings: Settings, extra: list[Path]) -> tuple[list[audit.Anchor], list[str]]:
    key = audit.current_key()
    found: list[audit.Anchor] = []
    problems: list[str] = []
    for path in [settings.audit_head_file, *extra]:
        if path in extra and not path.exists():
            raise SettingsError(f"--anchors {path}: no such file")
        heads = read_heads(path, key)
        found += heads.anchors
        problems += heads.problems
    return found, problems


def _describe_anchors(used: tuple[audit.Anchor, ...], read: int) -> str:
    if not read:
        return "no anchors found (head file empty or missing; --anchors FILE adds more)"
    last = max(used, key=lambda a: a.seq, default=None)
    sources = sorted({a.source.rsplit(":", 1)[0] for a in used})
    return f"checked against {len(used)} of {read} anchors ({', '.join(sources)})" + (
        f"; last anchored head {last.seq}:{last.hash} ({last.source})" if last else ""
    )


@audit_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH printed by an earlier verify; detects a truncated tail."),
    ] = None,
    anchors: Annotated[
        list[Path] | None,
        typer.Option(
            "--anchors",
            help="A file of anchored heads (SEQ:HASH lines, e.g. saved anchoring mails); "
            "repeatable. The head file (DSR_AUDIT_HEAD_FILE) is always read.",
        ),
    ] = None,
) -> None:
    """Recompute the hash chain and check it against every anchor it can read; exit 0 when
    intact, 1 naming the first broken event (or a forged anchor)."""
    settings = _settings(ctx)
    found, problems = _read_anchors(settings, list(anchors or []))
    result = asyncio.run(_verify(settings.database_url, _parse_head(head), found))
    used = _describe_anchors(result.anchors_used, len(found))
    if result.ok and not problems:
        keyed = (
            f"keyed (HMAC-SHA-256) from event {result.keyed_from}"
            if result.keyed_from
            else "plain SHA-256 (not keyed yet: the desk keys it at its next event)"
        )
        typer.echo(
            f"audit log intact: {result.count} events; head {result.last_seq}:{result.last_hash}"
        )
        typer.echo(f"chain: {keyed}")
        typer.echo(used)
        return
    if not result.ok:
        typer.echo(
            f"audit log BROKEN at event {result.broken_seq}: {result.reason} "
            f"({result.count} events verified before it)",
            err=True,
        )
    for problem in problems:
        typer.echo(f"anchor not trusted: {problem}", err=True)
    typer.echo(used, err=True)
    raise typer.Exit(1)


async def _export(
    url: str, fmt: ExportFormat, case: str | None, since: str | None, out: TextIO
) -> int:
    engine = create_engine(url)
    n = 0
    try:
        writer = csv.writer(out) if fmt is ExportFormat.csv else None
        if writer:
            writer.writerow(
                ["seq", "ts", "case_ref", "actor", "action", "details", "prev_hash", "hash"]
            )
        async for ev in audit.events(engine, case_ref=case, since=since):
            if writer:
                writer.writerow(
                    [
                        ev.seq,
                        ev.ts,
                        ev.case_ref or "",
                        ev.actor,
                        ev.action,
                        ev.details,
                        ev.prev_hash,
                        ev.hash,
                    ]
                )
            else:
                row = ev.model_dump()
                row["details"] = json.loads(ev.details)
                out.write(audit.canonical_json(row) + "\n")
            n += 1
    finally:
        await engine.dispose()
    return n


@audit_app.command("export")
def export_cmd(
    ctx: typer.Context,
    format: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl or csv")
    ] = ExportFormat.jsonl,
    case: Annotated[str | None, typer.Option(help="Only this case (DSR-n).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events from this date (YYYY-MM-DD).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export events (with their hashes, so the export itself can be re-verified)."""
    if since is not None:
        try:
            date.fromisoformat(since)
        except ValueError:
            raise SettingsError(f"--since must be a date like 2026-01-31; got {since!r}") from None
    url = _settings(ctx).database_url
    if out is None:
        n = asyncio.run(_export(url, format, case, since, sys.stdout))
    else:
        with out.open("w", encoding="utf-8", newline="") as fh:
            n = asyncio.run(_export(url, format, case, since, fh))
    typer.echo(f"{n} events exported", err=True)


@audit_app.command("show")
def show_cmd(ctx: typer.Context, case: Annotated[str, typer.Argument(help="DSR-n")]) -> None:
    """One case's timeline, readable."""
    from storage.models import parse_reference

    ref = f"DSR-{parse_reference(case)}"

    async def _show() -> int:
        engine = create_engine(_settings(ctx).database_url)
        n = 0
        try:
            async for ev in audit.events(engine, case_ref=ref):
                details = json.loads(ev.details)
                extra = ", ".join(f"{k}={v}" for k, v in details.items())
                typer.echo(
                    f"#{ev.seq:<6} {ev.ts[:19].replace('T', ' ')}  {ev.actor:<28} {ev.action}"
                    + (f"  ({extra})" if extra else "")
                )
                n += 1
        finally:
            await engine.dispose()
        return n

    if asyncio.run(_show()) == 0:
        typer.echo(f"no audit events for {ref}", err=True)
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade_cmd(
    ctx: typer.Context,
    create_dirs: Annotated[
        bool,
        typer.Option(
            "--create-dirs", help="Create the SQLite databases' directories when missing."
        ),
    ] = False,
    admin_url: Annotated[
        str | None,
        typer.Option(
            envvar="DSR_DATABASE_ADMIN_URL",
            help="PostgreSQL: migrate as this administrator and grant the desk's role (the user "
            "in DSR_DATABASE_URL) what it needs; audit_event gets INSERT and SELECT only.",
        ),
    ] = None,
) -> None:
    """Create or migrate the case store to this version's schema."""
    settings = _settings(ctx)
    prepare_store_dirs(settings, create=create_dirs)
    url = settings.database_url
    from sqlalchemy.exc import DBAPIError

    try:
        unsealed = asyncio.run(_written_before_sealing(url))
        if admin_url:
            desk = make_url(url).username
            if not desk:
                raise SettingsError(
                    "--admin-url needs a user name in DSR_DATABASE_URL (the desk's role)"
                )
            upgrade(admin_url, desk_role=desk)
        else:
            upgrade(url)
    except (OSError, DBAPIError) as exc:
        variable = "DSR_DATABASE_ADMIN_URL" if admin_url else "DSR_DATABASE_URL"
        raise DatabaseUnavailable.at(variable, admin_url or url, exc) from None
    typer.echo("case store is at the current migration")
    if unsealed:
        # Rows written before migration 0008 are sealed now, not at the first rotation.
        report = asyncio.run(_seal_existing(settings))
        typer.echo(f"sealed {report.total} values written before sealing existed")
    filled = asyncio.run(_hash_requesters(settings))
    if filled:
        typer.echo(f"hashed the requester's address of {filled} earlier case(s)")


async def _hash_requesters(settings: Settings) -> int:
    """Cases from before migration 0009 get the keyed hash of their requester (how a person's
    own requests are found); nothing to do on a new store, or without a key."""
    from bot.case import store

    if settings.keyring() is None:
        return 0
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await store.hash_requesters(session)
    finally:
        await engine.dispose()


async def _written_before_sealing(url: str) -> bool:
    """True when the store has a schema from before sealing (rows may be in clear)."""
    from sqlalchemy import inspect

    from storage.migrate import current_revision

    if await current_revision(url) is None:
        return False
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        return "seal_progress" not in tables
    finally:
        await engine.dispose()


async def _seal_existing(settings: Settings) -> RotationReport:
    from storage.rotation import rotate

    keyring = settings.keyring()
    if keyring is None:
        raise SettingsError(
            "the case store holds rows written before sealing and neither DSR_DATA_KEY nor "
            "DSR_SECRET_KEY is set to seal them; set one and run `dsr keys rotate`"
        )
    engine = create_engine(settings.database_url)
    try:
        return await rotate(engine, keyring, actor="system")
    finally:
        await engine.dispose()


def register(app: typer.Typer) -> None:
    """Add `audit` and `db` to the main CLI."""
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")
