"""`dsr report`: the compliance report over the case store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.case import store
from bot.case.inbox import ATTENTION
from bot.case.report import STUCK_AFTER, Report, summarise
from bot.errors import SettingsError
from bot.settings import Settings
from storage import audit
from storage.anchors import read_heads
from storage.db import create_engine, session_factory
from storage.migrate import check_current
from storage.models import Case, RecordKind, reference_of, utcnow


def _month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=UTC)


async def _load(
    url: str, since: date | None
) -> tuple[list[Case], dict[str, int], list[str], int, tuple[int, str] | None]:
    await check_current(url)
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            cases = await store.list_cases(session, due_from=since)
            inbound = await store.count_records(session, [*ATTENTION, RecordKind.PENDING])
            stuck = await store.undelivered_outbox(session, created_before=utcnow() - STUCK_AFTER)
            delayed = [
                f"{reference_of(r.case_id) if r.case_id else '-'}:{r.template}" for r in stuck
            ]
            now = utcnow()
            purged = await store.purged_between(session, _month_start(now.date()), now)
        return cases, inbound, delayed, purged, await audit.chain_head(engine)
    finally:
        await engine.dispose()


def _print(report: Report) -> None:
    typer.echo(f"cases: {report.total}")
    for title, counts in (
        ("by state", report.by_state),
        ("by intent", report.by_intent),
        ("by language", report.by_language),
    ):
        typer.echo(f"{title}: " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "-"))
    typer.echo(
        f"open and overdue: {len(report.open_overdue)} {' '.join(report.open_overdue)}".rstrip()
    )
    typer.echo(
        f"closed after their due date: {len(report.closed_late)} "
        f"{' '.join(report.closed_late)}".rstrip()
    )
    typer.echo(f"extended: {report.extended}")
    median = report.median_days_to_close
    typer.echo(f"median days to close: {median if median is not None else '-'}")
    waiting = ", ".join(f"{k} {v}" for k, v in report.inbound.items())
    typer.echo(f"mail records needing a person or waiting: {waiting or '-'} (dsr inbox list)")
    typer.echo(
        f"customer mail undelivered for more than a day: {len(report.mail_delayed)} "
        f"{' '.join(report.mail_delayed)}".rstrip()
        + (" (dsr outbox list)" if report.mail_delayed else "")
    )
    typer.echo(
        f"cases purged this month (retention, or the subject's erasure): {report.purged_this_month}"
    )


def _head_line(head: tuple[int, str] | None, settings: Settings) -> str:
    anchors = read_heads(settings.audit_head_file, audit.current_key()).anchors
    last = max(anchors, key=lambda a: a.seq, default=None)
    shown = f"{head[0]}:{head[1]}" if head else "- (empty log)"
    anchored = f"{last.seq}:{last.hash} ({last.ts or last.source})" if last else "none yet"
    return f"audit head: {shown}; last anchored: {anchored} (dsr audit verify checks both)"


def report(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Cases due from this date on.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    month: Annotated[
        str | None,
        typer.Option(help="YYYY-MM: the month at a glance as one HTML file (needs --out)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Where --month writes its HTML file.")] = None,
) -> None:
    """Requests by intent and state, deadlines kept or missed, time to close, the audit head;
    with --month, one self-contained HTML file with charts."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    if month is not None or out is not None:
        if month is None or out is None:
            raise SettingsError(
                "--month and --out go together, e.g. --month 2026-11 --out nov.html"
            )
        from bot.cli.month import load_month, render_month

        month_report, chain = asyncio.run(
            load_month(settings.database_url, month, settings.audit_head_file)
        )
        out.write_text(render_month(month_report, chain), encoding="utf-8")
        typer.echo(f"{out}: {month_report.total} requests received in {month}")
        return
    cases, inbound, delayed, purged, head = asyncio.run(
        _load(settings.database_url, since.date() if since else None)
    )
    result = summarise(cases, date.today(), inbound, delayed, purged)
    if as_json:
        row = dataclasses.asdict(result)
        row["audit_head"] = {"seq": head[0], "hash": head[1]} if head else None
        typer.echo(json.dumps(row, indent=2))
    else:
        _print(result)
        typer.echo(_head_line(head, settings))


def register(app: typer.Typer) -> None:
    """Add `report`."""
    app.command("report")(report)
