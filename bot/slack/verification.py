"""Slack's signature check as a bolt middleware: bolt's own verifier decides, and every refusal
is audited with its reason (never the body, which may quote a customer).

It replaces bolt's built-in `RequestVerification` (whose refusal log line prints the whole body)
and runs where that one would, before authorization and URL verification.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from slack_bolt.middleware.request_verification.async_request_verification import (
    AsyncRequestVerification,
)
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import Clock, SignatureVerifier

from bot.work.desk import Desk
from storage import audit

log = logging.getLogger(__name__)

MAX_AGE = 5 * 60  # seconds; Slack's own limit for replayed requests (bolt's verifier applies it)
#: Longest timestamp we read: a number of more digits is no Unix time in seconds.
MAX_TIMESTAMP_DIGITS = 12


class _FixedClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def signature_problem(secret: str, body: str, headers: Mapping[str, str], now: float) -> str | None:
    """Why a request is not from Slack (None: it is). Pure; the signature itself is checked by
    slack-sdk's `SignatureVerifier`.

    Returns:
        `missing_headers`, `bad_timestamp`, `stale_timestamp` or `bad_signature`.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    ts, signature = lower.get("x-slack-request-timestamp"), lower.get("x-slack-signature")
    if not ts or not signature:
        return "missing_headers"
    # ASCII digits only: `str.isdigit` accepts "²", which `int` then refuses.
    if not (ts.isascii() and ts.isdigit()) or len(ts) > MAX_TIMESTAMP_DIGITS:
        return "bad_timestamp"
    if abs(now - int(ts)) > MAX_AGE:
        return "stale_timestamp"
    verifier = SignatureVerifier(secret, clock=_FixedClock(lambda: now))
    return None if verifier.is_valid(body, ts, signature) else "bad_signature"


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


class AuditedRequestVerification(AsyncRequestVerification):
    """bolt's request verification, with refusals audited through a `RefusalLog`."""

    def __init__(
        self, signing_secret: str, refusals: RefusalLog, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(signing_secret)
        self._refusals = refusals
        self._clock = clock

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        """Pass a request signed by Slack on; refuse (401) and audit anything else."""
        if self._can_skip(req.mode, req.body):
            return await next()
        now = self._clock()
        headers = {k: v[0] for k, v in req.headers.items() if v}
        why = signature_problem(self._signing_secret, req.raw_body, headers, now)
        if why is None:
            return await next()
        await self._refusals.refused(why, now)
        return self._build_error_response()

    async def refuse_unreadable(self, body: str, headers: Mapping[str, str]) -> BoltResponse:
        """A body bolt cannot even parse: 401 unless Slack signed it (then 400), audited."""
        now = self._clock()
        why = signature_problem(self._signing_secret, body, headers, now) or "unreadable_body"
        await self._refusals.refused(why, now)
        if why == "unreadable_body":
            return BoltResponse(status=400, body={"error": "unreadable request"})
        return self._build_error_response()
