"""Composition root of `dsr run`: builds the adapters from settings and runs every loop under one
`asyncio.TaskGroup` until SIGTERM/SIGINT, then shuts down cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.http import Probe, add_probe, build_app, mark_ready, serve
from bot.settings import Settings
from bot.work.outbox import Dispatch, OutboxWorker
from storage import audit
from storage.migrate import check_current

log = logging.getLogger(__name__)

Loop = Callable[[], Coroutine[Any, Any, None]]


class _Shutdown(Exception):
    """Raised inside the TaskGroup to cancel every sibling task."""


def worker_id() -> str:
    """Names this process in claimed rows: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


async def _wait_for_signal(stop: asyncio.Event) -> None:
    await stop.wait()
    raise _Shutdown


def install_signal_handlers(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop` (clean shutdown) instead of killing the loop."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def run_loops(loops: Sequence[Loop], stop: asyncio.Event) -> None:
    """Run `loops` in one TaskGroup until `stop` is set or one of them fails (then all stop)."""
    try:
        async with asyncio.TaskGroup() as tg:
            for loop_fn in loops:
                tg.create_task(loop_fn())
            tg.create_task(_wait_for_signal(stop))
    except* _Shutdown:
        log.info("shutdown complete")


def _health(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any database failure means "not healthy", reported as 503
            log.warning("health check: case store unreachable")
            return False
        return True

    return check


def _slack_probe(client: Any) -> Probe:
    async def probe() -> tuple[bool, str]:
        try:
            await client.auth_test()
        except Exception as exc:  # any failure of the Web API means "Slack not reachable"
            return False, f"auth.test failed ({exc.__class__.__name__})"
        return True, "auth.test ok"

    return probe


async def _wait_serving(serving: asyncio.Event, web_app: Any) -> None:
    """`/readyz` turns 200 once the server listens and every loop has been started."""
    await serving.wait()
    mark_ready(web_app)


async def main(
    settings: Settings,
    *,
    extra_loops: Sequence[Loop] = (),
    dispatch: dict[str, Dispatch] | None = None,
    stop: asyncio.Event | None = None,
    intake: bool = True,
) -> None:
    """Start `dsr run`: check migrations and settings, then run intake, pipeline, housekeeping,
    the outbox and the HTTP server in one TaskGroup until SIGTERM/SIGINT."""
    from bot.build import open_desk
    from bot.slack.http import install_slack
    from bot.web import install_audit, install_metrics
    from bot.work.anchor import MAIL_KIND, audit_mail_dispatch, run_anchoring
    from bot.work.health import mail_probes
    from bot.work.mailbox import intake_loops
    from bot.work.mailer import build_sender, mail_dispatch
    from bot.work.scheduler import run_housekeeping, run_inbound, run_pipeline

    await check_current(settings.database_url)
    settings.secret_key_bytes()  # fail now, naming DSR_SECRET_KEY, not at the first case
    audit.use_key(settings.audit_key_bytes())  # this task and every loop it starts
    stop = stop or asyncio.Event()
    install_signal_handlers(stop)
    async with open_desk(settings) as desk:
        web_app = build_app(_health(desk.engine), mail_probes(settings))
        slack = install_slack(desk, web_app)  # POST /slack/events, Socket Mode, digest
        if slack is not None:
            add_probe(web_app, "slack", _slack_probe(slack.app.client))
        install_audit(web_app, desk)  # /audit, behind DSR_AUDIT_TOKEN
        install_metrics(web_app, desk)  # /metrics
        sender = build_sender(settings)
        routes = {
            "mail": mail_dispatch(settings, sender),
            MAIL_KIND: audit_mail_dispatch(sender, settings.privacy_address, settings.own_domain),
            **(dispatch or {}),
        }
        # Slack gets its own worker, so a hanging Slack API can never hold up mail rows.
        separate = {"slack": slack.dispatch} if slack and "slack" not in routes else {}
        workers = [
            OutboxWorker(
                engine=desk.engine,
                dispatch=kinds,
                worker_id=worker_id(),
                max_attempts=settings.outbox_max_attempts,
                lease=timedelta(seconds=settings.work_lease_seconds),
            )
            for kinds in (routes, separate)
            if kinds
        ]
        serving = asyncio.Event()
        loops: list[Loop] = [
            lambda: serve(web_app, settings.http_host, settings.http_port, started=serving),
            lambda: _wait_serving(serving, web_app),
            *(w.run for w in workers),
            lambda: run_inbound(desk),
            lambda: run_pipeline(desk),
            lambda: run_housekeeping(desk),
            lambda: run_anchoring(desk),
            *(intake_loops(desk) if intake else []),
            *(slack.loops if slack is not None else ()),
            *extra_loops,
        ]
        log.info("dsr run: serving on %s:%s", settings.http_host, settings.http_port)
        await run_loops(loops, stop)
