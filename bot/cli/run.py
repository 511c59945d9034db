"""`dsr run`: the long-running process (Procfile `web:`, deploy/Dockerfile, deploy/dsr.service)."""

from __future__ import annotations

import asyncio

import typer

from bot import app as bot_app
from bot.cli import logs
from bot.settings import Settings


def run(ctx: typer.Context) -> None:
    """Run the desk: HTTP server (/healthz, Slack), intake, pipeline, outbox, scheduler."""
    settings = ctx.obj
    assert isinstance(settings, Settings)
    logs.configure(settings.log_level)
    asyncio.run(bot_app.main(settings))


def register(app: typer.Typer) -> None:
    """Add `run`."""
    app.command("run")(run)
