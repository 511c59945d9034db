"""The outbox's Slack sender: posts a case's card once, then edits it in place; notes and
reminders go into the card's thread; the daily digest goes to the channel.

Cards are rendered when the row is sent, from the case as it is then, so a card missed during
a Slack outage shows the current state once Slack is back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import zlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.case import store
from bot.case.store import get_case
from bot.slack.cards import case_card, fallback_text, purged_card
from bot.slack.client import SlackSendError, api_error_code, send_error
from bot.slack.facts import card_facts, open_case_lines
from bot.slack.views import (
    digest_blocks,
    inbox_alert_text,
    mail_stuck_text,
    note_text,
    reminder_text,
)
from bot.work.desk import Desk
from bot.work.outbox import TransientSendError
from storage.models import Case, Outbox

log = logging.getLogger(__name__)

T = TypeVar("T")
_GONE = frozenset({"message_not_found", "channel_not_found"})
PENDING = "pending:"  # Case.slack_ts while a worker posts the card
CLAIM_SECONDS = 120
LOCKS = 64


def _posted(case: Case) -> bool:
    return bool(case.slack_channel and case.slack_ts and not case.slack_ts.startswith(PENDING))


async def _call(method: str, call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:  # translated: transient errors retry, the rest fail the row
        raise send_error(method, exc) from None


@dataclass
class SlackDispatcher:
    """`OutboxWorker` dispatch for rows of kind "slack".

    Args:
        desk: the shared desk (case store, executor for previews).
        client: the Web API client (see `bot.slack.client.make_client`).
        channel: DSR_SLACK_CHANNEL, where cards and the digest go.
    """

    desk: Desk
    client: AsyncWebClient
    channel: str
    _locks: list[asyncio.Lock] = field(
        default_factory=lambda: [asyncio.Lock() for _ in range(LOCKS)]
    )

    async def send(self, row: Outbox) -> None:
        """Send one outbox row.

        Raises:
            TransientSendError: Slack is rate-limiting, failing or unreachable (retried later).
            SlackSendError: Slack refused for good, or the template is unknown.
        """
        payload: dict[str, Any] = dict(row.payload)
        ref = str(payload.get("case", ""))
        # rows of one case are sent one at a time (the worker sends several rows at once)
        async with self._locks[zlib.crc32(ref.encode()) % LOCKS]:
            await self._send(row, payload)

    async def _send(self, row: Outbox, payload: dict[str, Any]) -> None:
        if row.template == "case_card":
            await self.post_card(str(payload["case"]))
        elif row.template == "case_purged":
            await self.purge_card(str(payload["case"]))
        elif row.template == "thread_note":
            await self.thread(str(payload["case"]), note_text(str(payload.get("note", ""))))
        elif row.template == "reminder":
            ref = str(payload["case"])
            await self.post_card(ref)  # refresh "days left" / overdue on the card itself
            await self.thread(ref, reminder_text(ref, int(payload["days_left"])), broadcast=True)
        elif row.template == "digest":
            await self.digest(date.fromisoformat(str(payload["day"])))
        elif row.template == "mail_stuck":
            ref = str(payload["case"])
            text = mail_stuck_text(
                ref,
                int(payload["outbox"]),
                str(payload["mail"]),
                int(payload["hours"]),
                str(payload["explanation"]),
            )
            await self.thread(ref, text, broadcast=True)
        elif row.template == "inbox_alert":
            text = inbox_alert_text(
                int(payload["record"]), str(payload["kind"]), int(payload["size"])
            )
            await _call(
                "chat.postMessage", self.client.chat_postMessage(channel=self.channel, text=text)
            )
        elif row.template == "audit_anchor":
            text = f"Audit log head anchored: `{int(payload['seq'])}:{payload['hash']}`"
            channel = str(payload.get("channel") or self.channel)
            await _call(
                "chat.postMessage", self.client.chat_postMessage(channel=channel, text=text)
            )
        else:
            raise SlackSendError(f"outbox row {row.id}: unknown Slack template {row.template!r}")

    async def post_card(self, ref: str) -> tuple[str, str]:
        """Post the case's card, or update it in place; returns (channel, ts).

        Raises:
            TransientSendError: another worker is posting this card right now (try later).
        """
        case, facts = await card_facts(self.desk, ref)
        blocks, text = case_card(facts), fallback_text(facts)
        if _posted(case):
            assert case.slack_channel and case.slack_ts
            try:
                await self.client.chat_update(
                    channel=case.slack_channel, ts=case.slack_ts, blocks=blocks, text=text
                )
                return case.slack_channel, case.slack_ts
            except Exception as exc:  # translated below, or the card is posted anew
                gone = isinstance(exc, SlackApiError) and api_error_code(exc) in _GONE
                if not gone:
                    raise send_error("chat.update", exc) from None
                log.warning("card of %s was deleted in Slack; posting it again", ref)
        marker = await self._claim(case)
        try:
            resp: AsyncSlackResponse = await _call(
                "chat.postMessage",
                self.client.chat_postMessage(channel=self.channel, blocks=blocks, text=text),
            )
        except Exception:
            await self._set(case, marker, None, None)
            raise
        channel, ts = str(resp["channel"]), str(resp["ts"])
        await self._set(case, marker, channel, ts)
        log.info("card of %s posted (%s)", ref, ts)
        return channel, ts

    async def purge_card(self, ref: str) -> None:
        """Edit a purged case's card down to its reference and outcome (no card, or a card
        deleted in Slack, leaves nothing to edit)."""
        async with self.desk.sessions() as session:
            case = await get_case(session, ref)
        if not _posted(case):
            return
        assert case.slack_channel and case.slack_ts
        blocks, text = purged_card(ref, case.state, case.closed_at)
        try:
            await self.client.chat_update(
                channel=case.slack_channel, ts=case.slack_ts, blocks=blocks, text=text
            )
        except Exception as exc:  # translated below; a deleted card needs no edit
            if isinstance(exc, SlackApiError) and api_error_code(exc) in _GONE:
                return
            raise send_error("chat.update", exc) from None

    async def _claim(self, case: Case) -> str:
        """Mark the card as being posted by this worker (a guarded UPDATE, so two processes
        never both post it); a marker older than `CLAIM_SECONDS` is taken over."""
        now = int(time.time())
        current = case.slack_ts
        if current and current.startswith(PENDING):
            since = current.split(":")[1]
            if since.isdigit() and now - int(since) < CLAIM_SECONDS:
                raise TransientSendError(f"card of {case.reference} is being posted elsewhere")
        marker = f"{PENDING}{now}:{secrets.token_hex(4)}"
        async with self.desk.sessions() as session, session.begin():
            if not await store.claim_card(session, case, current, marker):
                raise TransientSendError(f"card of {case.reference} is being posted elsewhere")
        return marker

    async def _set(self, case: Case, marker: str, channel: str | None, ts: str | None) -> None:
        async with self.desk.sessions() as session, session.begin():
            await store.set_card(session, case, marker, channel, ts)

    async def thread(self, ref: str, text: str, *, broadcast: bool = False) -> None:
        """Post `text` (our mrkdwn) into the card's thread, posting the card first if needed."""
        async with self.desk.sessions() as session:
            case = await get_case(session, ref)
        if _posted(case):
            assert case.slack_channel and case.slack_ts
            channel, ts = case.slack_channel, case.slack_ts
        else:
            channel, ts = await self.post_card(ref)
        await _call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=channel, thread_ts=ts, text=text, reply_broadcast=broadcast
            ),
        )

    async def digest(self, day: date) -> None:
        """Post the digest of overdue cases and those due within 7 days."""
        lines = await open_case_lines(self.desk)
        blocks = digest_blocks(lines, day)
        overdue = sum(1 for c in lines if c.due < day)
        await _call(
            "chat.postMessage",
            self.client.chat_postMessage(
                channel=self.channel,
                blocks=blocks,
                text=f"Privacy desk {day}: {overdue} overdue, {len(lines)} open",
            ),
        )
