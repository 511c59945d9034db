"""Signed webhooks to recipients: the outbox dispatcher for `kind == "webhook"`.

Each POST carries JSON and two headers, like Slack's and Stripe's schemes: `X-DSR-Timestamp`
(Unix seconds) and `X-DSR-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`. The receiver
recomputes it and refuses a timestamp older than a few minutes. The key is the recipient's entry
in DSR_WEBHOOK_SECRETS, or one derived from DSR_SECRET_KEY (`dsr keys webhook NAME` prints it for
the recipient). A 2xx answer acknowledges the task; anything else is retried by the outbox
(hourly at most) for as long as the task waits for its answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable

import aiohttp

from bot.settings import Settings
from bot.work.outbox import Dispatch, TransientSendError
from storage.models import Outbox

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-DSR-Timestamp"
SIGNATURE_HEADER = "X-DSR-Signature"
TIMEOUT = aiohttp.ClientTimeout(total=20)


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 over `timestamp.body` (pure)."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def check_signature(
    secret: bytes, timestamp: str, body: bytes, given: str, *, now: float, tolerance: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (pure)."""
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(signature(secret, timestamp, body), given)


def webhook_key(settings: Settings, name: str) -> bytes:
    """The key that signs webhooks for `name` (the data map's `secret:`): the one set in
    DSR_WEBHOOK_SECRETS, or else one derived from DSR_SECRET_KEY (give the recipient the value
    `dsr keys webhook NAME` prints).

    Raises:
        SettingsError: neither is set.
    """
    given = settings.webhook_secrets.get(name)
    if given is not None:
        return given.get_secret_value().encode()
    return hmac.new(settings.secret_key_bytes(), b"dsr-webhook:" + name.encode(), "sha256").digest()


def webhook_key_text(settings: Settings, name: str) -> str:
    """The key as the recipient configures it: the text given, or the derived key in hex."""
    given = settings.webhook_secrets.get(name)
    return given.get_secret_value() if given is not None else webhook_key(settings, name).hex()


def webhook_dispatch(settings: Settings, clock: Callable[[], float] = time.time) -> Dispatch:
    """The outbox dispatcher for webhook rows: POST the signed body; 2xx or an error."""

    async def send(row: Outbox) -> None:
        url, key = row.payload.get("url"), row.payload.get("secret")
        if not isinstance(url, str) or not isinstance(key, str):
            raise TransientSendError(f"outbox row {row.id}: no URL or no key name")
        secret = webhook_key_text(settings, key).encode()
        body = json.dumps(row.payload.get("body") or {}, sort_keys=True).encode()
        stamp = str(int(clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(secret, stamp, body),
            "Idempotency-Key": row.message_id or f"outbox-{row.id}",
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as http,
                http.post(url, data=body, headers=headers, allow_redirects=False) as resp,
            ):
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"webhook: {type(exc).__name__}") from exc
        if not 200 <= status < 300:
            raise TransientSendError(f"webhook answered HTTP {status}")
        log.info("webhook outbox %s delivered: HTTP %s", row.id, status)

    return send


__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "check_signature",
    "signature",
    "webhook_dispatch",
    "webhook_key",
    "webhook_key_text",
]
