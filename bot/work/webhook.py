"""Signed webhooks to recipients: the outbox dispatcher for `kind == "webhook"`.

Each POST carries JSON and two headers, like Slack's and Stripe's schemes:
`X-DSR-Timestamp` (Unix seconds) and `X-DSR-Signature: v1=<hex HMAC-SHA256 of
"{timestamp}.{body}" under the recipient's key>`. The receiver recomputes it and refuses a
timestamp older than a few minutes. A 2xx answer acknowledges the task; anything else is retried
by the outbox (hourly at most) for as long as the task waits for its answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable

import aiohttp

from bot.errors import SettingsError
from bot.settings import Settings
from bot.work.outbox import Dispatch, TransientSendError
from storage.datamap import DataMap
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


def check_secrets(datamap: DataMap, settings: Settings) -> None:
    """Every webhook recipient's key is configured.

    Raises:
        SettingsError: naming DSR_WEBHOOK_SECRETS and the missing key.
    """
    for name, table in datamap.tables.items():
        for r in table.recipients:
            if r.via == "webhook" and r.secret not in settings.webhook_secrets:
                raise SettingsError(
                    f"DSR_WEBHOOK_SECRETS has no key {r.secret!r}, which signs the webhook of "
                    f"recipient {r.ident!r} (data map table {name!r}); set DSR_WEBHOOK_SECRETS="
                    "'{\"" + str(r.secret) + '": "<shared secret>"}\''
                )


def webhook_dispatch(settings: Settings, clock: Callable[[], float] = time.time) -> Dispatch:
    """The outbox dispatcher for webhook rows: POST the signed body; 2xx or an error."""

    async def send(row: Outbox) -> None:
        url, key = row.payload.get("url"), row.payload.get("secret")
        secret = settings.webhook_secrets.get(str(key))
        if not isinstance(url, str) or secret is None:
            raise TransientSendError(
                f"outbox row {row.id}: no URL or no key {key!r} in DSR_WEBHOOK_SECRETS"
            )
        body = json.dumps(row.payload.get("body") or {}, sort_keys=True).encode()
        stamp = str(int(clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: signature(secret.get_secret_value().encode(), stamp, body),
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
    "check_secrets",
    "check_signature",
    "signature",
    "webhook_dispatch",
]
