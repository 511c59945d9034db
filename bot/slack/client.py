"""The Slack Web API client (slack-sdk) with its retry handlers, and the translation of what
is left after retries into the outbox's transient/permanent errors.
"""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import DsrError
from bot.settings import Settings
from bot.work.outbox import TransientSendError


class SlackSendError(DsrError, RuntimeError):
    """Slack refused a call for good (bad token, unknown channel, invalid blocks)."""


def make_client(settings: Settings, *, retries: int = 2) -> AsyncWebClient:
    """The bot's Web API client: base URL from DSR_SLACK_API_URL; 429 (after Retry-After),
    500/503 and connection errors are retried `retries` times before the caller sees them."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=retries),
            AsyncRateLimitErrorRetryHandler(max_retry_count=retries),
            AsyncServerErrorRetryHandler(max_retry_count=retries),
        ],
    )


def api_error_code(exc: SlackApiError) -> str:
    """Slack's error code (e.g. `channel_not_found`), never the echoed message content."""
    data = getattr(exc.response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return str(code or "unknown_error")[:80]


def send_error(method: str, exc: Exception) -> Exception:
    """The outbox error for a failed call: `TransientSendError` for 429/5xx/network (the row is
    tried again later), `SlackSendError` otherwise. Messages carry codes, never content."""
    if isinstance(exc, SlackApiError):
        status = int(getattr(exc.response, "status_code", 0) or 0)
        code = api_error_code(exc)
        text = f"Slack {method} answered HTTP {status} {code}"
        if status == 429 or status >= 500 or code in {"ratelimited", "service_unavailable"}:
            return TransientSendError(text + "; will try again")
        return SlackSendError(
            text + "; check DSR_SLACK_BOT_TOKEN, DSR_SLACK_CHANNEL and the app's scopes"
        )
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | OSError):
        return TransientSendError(f"Slack {method} unreachable: {type(exc).__name__}")
    return exc
