"""Anchoring the audit chain outside the database, daily: the head (seq, hash) is appended to the
head file, posted to the auditors' Slack channel and mailed to the auditors' address (both through
the outbox), and recorded as an `audit_head_anchored` event.

A head is anchored only after the chain verifies up to it (from the last anchor on): a broken
chain is never blessed; it raises instead, naming the event.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from bot.case import store
from bot.case.messages import OutboxItem, slack_item
from bot.work.desk import Desk
from bot.work.outbox import Dispatch, TransientSendError
from mail.errors import MailSendError
from mail.sender import Sender
from storage import audit
from storage.anchors import append_head, read_heads
from storage.models import Outbox

log = logging.getLogger(__name__)
ANCHOR_ACTION = "audit_head_anchored"
MAIL_KIND = "audit_mail"


def anchor_items(desk: Desk, seq: int, digest: str, ts: str) -> list[OutboxItem]:
    """The outbox rows that carry one anchor: a Slack post and/or a mail to the auditors."""
    settings = desk.settings
    items: list[OutboxItem] = []
    if settings.audit_anchor_channel and desk.slack_enabled:
        items.append(
            slack_item(
                "audit_anchor", channel=settings.audit_anchor_channel, seq=seq, hash=digest, ts=ts
            )
        )
    if settings.auditor_address:
        items.append(
            OutboxItem(
                MAIL_KIND,
                "audit_anchor",
                {"to": settings.auditor_address, "seq": seq, "hash": digest, "ts": ts},
            )
        )
    return items


async def anchor_now(desk: Desk) -> audit.Anchor | None:
    """Verify the chain, then anchor its head; None when the log is empty.

    Raises:
        AuditChainError: the chain does not verify (against the head file too); nothing is
            anchored.
    """
    settings = desk.settings
    heads = read_heads(settings.audit_head_file, audit.current_key())
    await audit.verify_or_raise(desk.engine, anchors=heads.anchors)
    head = await audit.chain_head(desk.engine)
    if head is None:
        return None
    seq, digest = head
    ts = audit.now_ts()
    async with desk.sessions() as session, session.begin():
        await store.add_outbox(
            session, None, anchor_items(desk, seq, digest, ts), domain=settings.own_domain
        )
        await audit.append(
            session,
            action=ANCHOR_ACTION,
            actor="system",
            details={"seq": seq, "hash": digest, "file": settings.audit_head_file.name},
        )
    append_head(settings.audit_head_file, audit.current_key(), seq, digest, ts)
    log.info("audit head anchored at event %s", seq)
    return audit.Anchor(seq, digest, settings.audit_head_file.name, ts)


def next_run(now: datetime, hour: int) -> datetime:
    """The next `hour`:00 UTC strictly after `now`."""
    at = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


async def run_anchoring(desk: Desk) -> None:
    """Anchor once a day at DSR_AUDIT_ANCHOR_HOUR (UTC), and at start-up when the head file's
    last anchor is more than a day old (or there is none)."""
    heads = read_heads(desk.settings.audit_head_file, audit.current_key()).anchors
    last = max((a.ts for a in heads if a.ts), default=None)
    day_ago = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if last is None or last < day_ago:
        await anchor_now(desk)
    while True:
        now = datetime.now(UTC)
        await asyncio.sleep((next_run(now, desk.settings.audit_anchor_hour) - now).total_seconds())
        await anchor_now(desk)


def anchor_mail(row: Outbox, from_addr: str, domain: str) -> EmailMessage:
    """The anchoring mail: the head on a line of its own (`SEQ:HASH`), which `dsr audit verify
    --anchors` reads back from a saved copy."""
    payload = row.payload
    seq, digest = int(payload["seq"]), str(payload["hash"])
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = str(payload["to"])
    msg["Subject"] = f"dsr-bot audit head {seq}"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        "The audit log's head as of "
        f"{payload.get('ts')}:\n\n{seq}:{digest}\n\n"
        "Keep this mail. `dsr audit verify --anchors FILE` checks the log against heads saved "
        "this way: the event must still be there, with this hash.\n"
    )
    return msg


def audit_mail_dispatch(sender: Sender, from_addr: str, domain: str) -> Dispatch:
    """The outbox dispatcher for anchoring mails (rows of kind `audit_mail`, of no case)."""

    async def send(row: Outbox) -> None:
        try:
            await sender.send(anchor_mail(row, from_addr, domain))
        except MailSendError as exc:
            if exc.transient:
                raise TransientSendError(str(exc)) from exc
            raise

    return send
