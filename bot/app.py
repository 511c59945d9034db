"""Composition root of `dsr run`: builds the adapters from settings and runs every loop under one
`asyncio.TaskGroup` until SIGTERM/SIGINT, then shuts down cleanly.

A database that is locked, restarting or unreachable stops no loop for good: the loop waits
(backing off to `MAX_BACKOFF`) and starts again, so the desk outlives a store locked for
minutes or a PostgreSQL restart. Any other exception still stops the desk, loudly.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.http import Probe, add_probe, build_app, mark_ready, serve
from bot.settings import Settings
from bot.work.outbox import Dispatch, OutboxWorker
from storage import audit, sealing
from storage.db import conflict
from storage.migrate import check_current

log = logging.getLogger(__name__)

Loop = Callable[[], Coroutine[Any, Any, None]]
MAX_BACKOFF = 30.0


class _Shutdown(Exception):
    """Raised inside the TaskGroup to cancel every sibling task."""


def database_trouble(exc: BaseException) -> bool:
    """True for a failure that waiting can cure: a locked or busy SQLite file, a PostgreSQL
    server that restarts or cannot be reached, a connection dropped under us, a transaction
    PostgreSQL cancelled for another (deadlock), or a group of such failures (a loop's tasks)."""
    if isinstance(exc, BaseExceptionGroup):
        return all(database_trouble(e) for e in exc.exceptions)
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and (exc.connection_invalidated or conflict(exc))


def resilient(loop_fn: Loop, name: str, *, first_wait: float = 0.5) -> Loop:
    """`loop_fn`, restarted after database trouble with a capped exponential back-off."""

    async def run() -> None:
        wait = first_wait
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await loop_fn()
                return
            except Exception as exc:
                if not database_trouble(exc):
                    raise
                if asyncio.get_running_loop().time() - started > 60:
                    wait = first_wait  # it ran a good while: this is a new spell of trouble
                log.warning(
                    "%s: the case store is unavailable (%s); trying again in %.1f s",
                    name,
                    type(getattr(exc, "orig", None) or exc).__name__,
                    wait,
                )
                await asyncio.sleep(wait)
                wait = min(wait * 2, MAX_BACKOFF)

    return run


def make_folders(settings: Settings, packages_dir: Path) -> None:
    """Create the folders `dsr run` writes to (embedded intake and outbox, access packages),
    0700 each: they hold customers' mail and data (an existing one is made 0700 too)."""
    from mail.maildir import private_dir

    folders = [packages_dir]
    maildirs = [settings.maildir] if not settings.imap_host else []
    if not settings.smtp_host:
        maildirs.append(settings.outbox_maildir)
    folders += [box / sub for box in maildirs for sub in ("new", "cur", "tmp")]
    for folder in folders:
        private_dir(folder)
        if folder.name in ("new", "cur", "tmp"):
            private_dir(folder.parent)


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
    from bot.build import open_desk, reach
    from bot.slack.http import install_slack
    from bot.web import install_audit, install_metrics
    from bot.work.anchor import MAIL_KIND, audit_mail_dispatch, run_anchoring
    from bot.work.health import mail_probes
    from bot.work.instance import Instance
    from bot.work.mailbox import intake_loops
    from bot.work.mailer import build_sender, mail_dispatch
    from bot.work.scheduler import run_housekeeping, run_inbound, run_pipeline
    from bot.work.webhook import webhook_dispatch

    await reach("DSR_DATABASE_URL", settings.database_url, check_current(settings.database_url))
    settings.secret_key_bytes()  # fail now, naming DSR_SECRET_KEY, not at the first case
    audit.use_key(settings.audit_key_bytes())  # this task and every loop it starts
    sealing.use_keyring(settings.keyring())  # likewise the keys that seal personal data
    packages = Path("var/packages")
    make_folders(settings, packages)
    stop = stop or asyncio.Event()
    install_signal_handlers(stop)
    async with open_desk(settings, packages_dir=packages) as desk:
        instance = Instance(desk.engine)
        await instance.beat()  # registered before it claims anything
        desk.instance = instance
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
            "webhook": webhook_dispatch(settings),  # recipients told of an erasure (Art. 19)
            **(dispatch or {}),
        }
        # Slack gets its own worker, so a hanging Slack API can never hold up mail rows.
        separate = {"slack": slack.dispatch} if slack and "slack" not in routes else {}
        workers = [
            OutboxWorker(
                engine=desk.engine,
                dispatch=kinds,
                worker_id=instance.id,
                max_attempts=settings.outbox_max_attempts,
                lease=timedelta(seconds=settings.work_lease_seconds),
                announce=desk.slack_enabled,
                domain=settings.own_domain,
                alive=instance.alive,
            )
            for kinds in (routes, separate)
            if kinds
        ]
        serving = asyncio.Event()
        work: list[tuple[str, Loop]] = [
            ("heartbeat", instance.run),
            *((f"outbox:{','.join(w.dispatch)}", w.run) for w in workers),
            ("inbound", lambda: run_inbound(desk)),
            ("pipeline", lambda: run_pipeline(desk)),
            ("housekeeping", lambda: run_housekeeping(desk)),
            ("anchoring", lambda: run_anchoring(desk)),
            *(("intake", fn) for fn in (intake_loops(desk) if intake else [])),
        ]
        loops: list[Loop] = [
            lambda: serve(web_app, settings.http_host, settings.http_port, started=serving),
            lambda: _wait_serving(serving, web_app),
            *(resilient(fn, name) for name, fn in work),
            *(slack.loops if slack is not None else ()),
            *extra_loops,
        ]
        log.info("dsr run: serving on %s:%s", settings.http_host, settings.http_port)
        await run_loops(loops, stop)
