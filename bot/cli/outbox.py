"""`dsr outbox list|retry`: customer mail the mail server has not accepted yet — why, and what
happens next — and sending one again after a fix. Recipient addresses are never printed."""

from __future__ import annotations

import asyncio
import getpass
import json
from typing import Annotated

import typer

from bot.build import open_desk
from bot.settings import Settings
from bot.work import delivery
from bot.work.actions import ActionResult

outbox_app = typer.Typer(help="Outgoing mail not yet delivered.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@outbox_app.command("list")
def list_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Mail not yet accepted by the server, oldest first; exit 2 when there is none."""

    async def go() -> list[delivery.Undelivered]:
        async with open_desk(_settings(ctx)) as desk:
            return await delivery.undelivered(desk)

    rows = asyncio.run(go())
    for row in rows:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "id": row.id,
                        "case": row.case_ref,
                        "template": row.template,
                        "status": row.status,
                        "attempts": row.attempts,
                        "created_at": row.created_at.isoformat(),
                        "next_attempt_at": row.next_attempt_at.isoformat(),
                        "explanation": row.explanation,
                    }
                )
            )
        else:
            typer.echo(
                f"{row.id:<7} {row.case_ref or '-':<9} {row.template:<18} {row.status:<8} "
                f"since {row.created_at:%Y-%m-%d %H:%M}: {row.explanation}"
            )
    if not rows:
        typer.echo("every mail was delivered", err=True)
        raise typer.Exit(2)


@outbox_app.command("retry")
def retry_cmd(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="Mail numbers from `dsr outbox list`.")],
    actor: Annotated[str | None, typer.Option(help="Who acts (audited).")] = None,
) -> None:
    """Send mail again at once (a failed one, or one waiting for its next attempt); audited.
    `dsr run` sends it. Exit 2 when none needed it."""
    who = f"cli:{actor or getpass.getuser()}"[:128]

    async def go() -> list[ActionResult]:
        async with open_desk(_settings(ctx)) as desk:
            return [await delivery.resend(desk, n, who) for n in ids]

    results = asyncio.run(go())
    for result in results:
        typer.echo(result.message)
    if not any(r.done for r in results):
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add `outbox`."""
    app.add_typer(outbox_app, name="outbox")
