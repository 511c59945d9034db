"""Slack's ways in: `POST /slack/events` on the bot's aiohttp server (signature checked, and
refusals audited, before bolt sees the body) and Socket Mode when DSR_SLACK_APP_TOKEN is set.
`install_slack` builds all of it for `bot.app.main`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.app import build_slack_app
from bot.slack.client import make_client
from bot.slack.digest import run_digest
from bot.slack.outbox import SlackDispatcher
from bot.slack.staff import Staff
from bot.work.desk import Desk
from bot.work.outbox import Dispatch
from storage import audit

log = logging.getLogger(__name__)

MAX_AGE = 5 * 60  # seconds; Slack's own limit for replayed requests
EVENTS_PATH = "/slack/events"
Loop = Callable[[], Coroutine[Any, Any, None]]


def signature_problem(secret: str, body: str, headers: Mapping[str, str], now: float) -> str | None:
    """Why a request is not from Slack (None: it is). Pure.

    Returns:
        `missing_headers`, `bad_timestamp`, `stale_timestamp` or `bad_signature`.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ts, signature = lower.get("x-slack-request-timestamp"), lower.get("x-slack-signature")
    if not ts or not signature:
        return "missing_headers"
    if not ts.isdigit():
        return "bad_timestamp"
    if abs(now - int(ts)) > MAX_AGE:
        return "stale_timestamp"
    expected = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body) or ""
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad_signature"
    return None


@dataclass
class RefusalLog:
    """Audits refused requests, at most one event per reason per `every` seconds (a flood of
    forged requests must not flood the audit log); the event counts the ones it stands for."""

    desk: Desk
    every: float = 1.0
    _last: dict[str, float] = field(default_factory=dict)
    _pending: dict[str, int] = field(default_factory=dict)

    async def refused(self, why: str, now: float) -> None:
        """Record one refused request."""
        self._pending[why] = self._pending.get(why, 0) + 1
        if now - self._last.get(why, float("-inf")) < self.every:
            return
        count, self._pending[why], self._last[why] = self._pending[why], 0, now
        async with self.desk.sessions() as session, session.begin():
            await audit.append(
                session,
                action="slack_request_refused",
                actor="slack:unverified",
                details={"why": why, "requests": count},
            )
        log.warning("slack request refused: %s (%s)", why, count)


def events_handler(
    app: AsyncApp, secret: str, refusals: RefusalLog, clock: Callable[[], float] = time.time
) -> Callable[[web.Request], Coroutine[Any, Any, web.Response]]:
    """The aiohttp handler for `POST /slack/events`."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        now = clock()
        why = signature_problem(secret, body, request.headers, now)
        if why is not None:
            await refusals.refused(why, now)
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_request = AsyncBoltRequest(
            body=body, query=request.query_string, headers=dict(request.headers)
        )
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return handle


async def run_socket_mode(app: AsyncApp, app_token: str, api_url: str) -> None:
    """Hold a Socket Mode connection until cancelled (slack-sdk reconnects by itself)."""
    handler = AsyncSocketModeHandler(
        app, app_token=app_token, web_client=AsyncWebClient(base_url=api_url)
    )
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("slack socket mode connected")
    try:
        await asyncio.Event().wait()
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class SlackParts:
    """What `main` wires in: the outbox dispatch, loops to run, the bolt app."""

    dispatch: Dispatch
    loops: tuple[Loop, ...]
    app: AsyncApp


def install_slack(desk: Desk, web_app: web.Application | None) -> SlackParts | None:
    """Build the Slack side from settings; mounts `POST /slack/events` on `web_app` when a
    signing secret is set. Returns None when Slack is not configured."""
    settings = desk.settings
    if not desk.slack_enabled or not settings.slack_channel:
        return None
    client = make_client(settings)
    secret = settings.slack_signing_secret
    app = build_slack_app(
        Staff(desk, client), signing_secret=secret.get_secret_value() if secret else None
    )
    if secret is not None and web_app is not None:
        handler = events_handler(app, secret.get_secret_value(), RefusalLog(desk))
        web_app.router.add_post(EVENTS_PATH, handler)
    loops: list[Loop] = [lambda: run_digest(desk)]
    if settings.slack_app_token is not None:
        token = settings.slack_app_token.get_secret_value()
        loops.append(lambda: run_socket_mode(app, token, settings.slack_api_url))
    dispatcher = SlackDispatcher(desk, client, settings.slack_channel)
    return SlackParts(dispatcher.send, tuple(loops), app)
