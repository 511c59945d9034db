"""The daily digest: once a day (after `hour` UTC) one outbox row, keyed by the date, so that
however many `dsr run` processes there are, Slack gets one digest a day.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

from sqlalchemy.exc import IntegrityError

from bot.case import store
from bot.case.messages import OutboxItem
from bot.work.desk import Desk

log = logging.getLogger(__name__)


def digest_key(day: date) -> str:
    """The unique key of one day's digest row (stored in the outbox's Message-ID column)."""
    return f"<digest.{day.isoformat()}@slack.dsr.invalid>"


def digest_due(now: datetime, hour: int) -> bool:
    """True once the day's digest hour has come (UTC). Pure."""
    return now.astimezone(UTC).hour >= hour


async def queue_digest(desk: Desk, day: date) -> bool:
    """Write the digest row for `day` unless it exists; returns True when this call wrote it."""
    key = digest_key(day)
    try:
        async with desk.sessions() as session, session.begin():
            if await store.outbox_key_taken(session, key):
                return False
            item = OutboxItem("slack", "digest", {"day": day.isoformat()}, message_id=key)
            await store.add_outbox(session, None, [item], domain=desk.settings.own_domain)
    except IntegrityError:  # another process queued it at the same moment
        return False
    log.info("slack digest for %s queued", day)
    return True


async def run_digest(desk: Desk, *, hour: int = 8, every: float = 300.0) -> None:
    """Queue one digest a day at `hour` UTC, until cancelled (a loop for `bot.app.main`)."""
    while True:
        now = datetime.now(UTC)
        if desk.slack_enabled and digest_due(now, hour):
            await queue_digest(desk, now.date())
        await asyncio.sleep(every)
