"""Slack's ways in: `POST /slack/events` on the bot's aiohttp server (the signature is checked,
and refusals audited, by `bot.slack.verification`'s bolt middleware) and Socket Mode when
DSR_SLACK_APP_TOKEN is set.
`install_slack` builds all of it for `bot.app.main`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.app import build_slack_app
from bot.slack.client import make_client
from bot.slack.digest import run_digest
from bot.slack.outbox import SlackDispatcher
from bot.slack.staff import Staff
from bot.slack.verification import AuditedRequestVerification, RefusalLog
from bot.work.desk import Desk
from bot.work.outbox import Dispatch

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
Loop = Callable[[], Coroutine[Any, Any, None]]


def events_handler(
    app: AsyncApp, verification: AuditedRequestVerification
) -> Callable[[web.Request], Coroutine[Any, Any, web.Response]]:
    """The aiohttp handler for `POST /slack/events` (the signature is checked in bolt, by
    `verification`; a body bolt cannot parse is refused here, before bolt sees it)."""

    async def handle(request: web.Request) -> web.Response:
        body = await request.text()
        headers = dict(request.headers)
        try:
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=dict(request.headers)
            )
        except ValueError:  # not JSON / form data: never from Slack, or Slack gone wrong
            return await to_aiohttp_response(await verification.refuse_unreadable(body, headers))
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
    verification = (
        AuditedRequestVerification(secret.get_secret_value(), RefusalLog(desk))
        if secret is not None
        else None
    )
    app = build_slack_app(Staff(desk, client), verification=verification)
    if verification is not None and web_app is not None:
        web_app.router.add_post(EVENTS_PATH, events_handler(app, verification))
    loops: list[Loop] = [lambda: run_digest(desk)]
    if settings.slack_app_token is not None:
        token = settings.slack_app_token.get_secret_value()
        loops.append(lambda: run_socket_mode(app, token, settings.slack_api_url))
    dispatcher = SlackDispatcher(desk, client, settings.slack_channel)
    return SlackParts(dispatcher.send, tuple(loops), app)
