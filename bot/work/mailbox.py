"""Intake wiring: the IMAP UID state kept in the case store, the Maildir + SMTP receiver default,
and the PostgreSQL advisory lock that lets exactly one `dsr run` process read the mailbox.

Readers only record messages (`bot.work.intake.record`); `bot.work.scheduler.run_inbound`
processes them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.case import store
from bot.work.desk import Desk
from bot.work.intake import ingest, record
from mail.imap import ImapConfig, ImapIntake
from mail.intake import BatchHandler, Fetched, Handler, Outcome
from mail.maildir import MaildirIntake
from mail.receiver import SmtpReceiver

log = logging.getLogger(__name__)

MAILBOX_LOCK_KEY = 0x6473726D626F78  # "dsrmbox"


class CaseStoreUidState:
    """`mail.intake.UidStateStore` on the case store's `mailbox_state` table."""

    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    async def load(self, mailbox: str) -> tuple[int, int] | None:
        """(uidvalidity, last uid) or None."""
        async with self._desk.sessions() as session:
            return await store.mailbox_progress(session, mailbox)

    async def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Remember progress (called only after the batch's records committed)."""
        async with self._desk.sessions() as session, session.begin():
            await store.save_mailbox_progress(session, mailbox, uidvalidity, last_uid)


def handler(desk: Desk) -> Handler:
    """A one-message handler doing both intake stages at once (the demo's Maildir pass)."""

    async def handle(fetched: Fetched) -> Outcome:
        return (await ingest(desk, fetched)).outcome

    return handle


def recorder(desk: Desk) -> BatchHandler:
    """The mailbox readers' handler: record a batch raw; stage two runs in `run_inbound`."""

    async def handle(items: Sequence[Fetched]) -> Sequence[Outcome]:
        return await record(desk, items)

    return handle


async def with_mailbox_lock(
    engine: AsyncEngine, body: Coroutine[Any, Any, None], retry: float = 5.0
) -> None:
    """Run `body` only while holding the mailbox lock (PostgreSQL); SQLite runs it at once.

    The lock is session-level on one dedicated connection: if this process dies, PostgreSQL
    drops the connection and another process takes over reading the mailbox.
    """
    if engine.dialect.name != "postgresql":
        await body
        return
    async with engine.connect() as conn:
        while True:
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": MAILBOX_LOCK_KEY})
            ).scalar()
            await conn.commit()
            if got:
                break
            await asyncio.sleep(retry)
        log.info("this process now reads the mailbox")
        try:
            await body
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MAILBOX_LOCK_KEY})
            await conn.commit()


def intake_loops(desk: Desk) -> list[Any]:
    """The intake coroutine factories for the configured mailbox."""
    settings = desk.settings
    batch = recorder(desk)
    if settings.imap_host:
        assert settings.imap_user and settings.imap_password
        config = ImapConfig(
            settings.imap_host,
            settings.imap_port_effective,
            settings.imap_user,
            settings.imap_password.get_secret_value(),
            settings.imap_tls,
            settings.imap_mailbox,
            quarantine_mailbox=settings.imap_quarantine,
            max_fetch_bytes=settings.max_message_bytes,
        )
        imap = ImapIntake(config)
        state = CaseStoreUidState(desk)
        return [lambda: with_mailbox_lock(desk.engine, imap.run_batches(batch, state))]
    maildir = MaildirIntake(settings.maildir)

    async def one(fetched: Fetched) -> Outcome:
        [outcome] = await batch([fetched])
        return outcome

    loops = [lambda: with_mailbox_lock(desk.engine, maildir.run(one))]
    if settings.smtp_receiver_port:
        receiver = SmtpReceiver(
            settings.maildir, port=settings.smtp_receiver_port, max_bytes=settings.max_message_bytes
        )
        loops.append(receiver.run)
    return loops
