"""`dsr report`: the compliance report over the case store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import date, datetime
from typing import Annotated

import typer

from bot.case import store
from bot.case.inbox import ATTENTION
from bot.case.report import STUCK_AFTER, Report, summarise
from bot.settings import Settings
from storage.db import create_engine, session_factory
from storage.migrate import check_current
from storage.models import Case, RecordKind, reference_of, utcnow


async def _load(url: str, since: date | None) -> tuple[list[Case], dict[str, int], list[str]]:
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
            return cases, inbound, delayed
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


def report(
    ctx: typer.Context,
    since: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Cases due from this date on.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Requests by intent and state, deadlines kept or missed, time to close."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    cases, inbound, delayed = asyncio.run(
        _load(settings.database_url, since.date() if since else None)
    )
    result = summarise(cases, date.today(), inbound, delayed)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        _print(result)


def register(app: typer.Typer) -> None:
    """Add `report`."""
    app.command("report")(report)
