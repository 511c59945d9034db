"""A desk wired to real servers for end-to-end tests: Dovecot intake, aiosmtpd outbound, a case
store on SQLite or PostgreSQL, and a reference customer store with known customers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aioimaplib

from bot.case.policy import Policy
from bot.settings import Settings, load_settings
from bot.work.desk import Desk
from bot.work.intake import process_recorded
from bot.work.mailbox import CaseStoreUidState, recorder
from bot.work.mailer import build_sender, mail_dispatch
from bot.work.outbox import OutboxWorker
from bot.work.pipeline import advance_due
from intents.classify import IntentModel
from mail.imap import ImapConfig, ImapIntake
from storage import audit, sealing
from storage.customer import Executor
from storage.customer.importer import import_customers
from storage.datamap import load_datamap
from storage.db import create_engine, session_factory
from storage.models import Case
from storage.retention import RetentionLedger
from tests.servers.dovecot import DovecotServer, logout
from tests.servers.smtp import SmtpServer

CUSTOMERS = [
    {
        "username": "alice",
        "email": "alice@example.org",
        "name": "Alice Liddell",
        "company": "Wonder GmbH",
        "phone": "+49 30 1234567",
        "street": "Hauptstr. 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
        "newsletter": True,
    },
    {
        "username": "bob",
        "email": "bob@example.net",
        "name": "Bob Builder",
        "company": "",
        "phone": "+31 20 7654321",
        "street": "Damrak 2",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
        "newsletter": True,
    },
]
# Mixed requests used by the process-level tests (crash safety, scale-out, benchmark).
REQUESTS = [
    ("alice@example.org", "Please stop sending me your newsletter."),
    ("bob@example.net", "Unsubscribe me from all marketing e-mails, please."),
    ("alice@example.org", "I am worried that you share my data with advertisers. Why?"),
    ("bob@example.net", "Please send me a copy of all the personal data you hold about me."),
    ("carol@nowhere.example", "Please delete my account and all of my data."),
    ("dave@nowhere.example", "How do I reset my password? I cannot log in."),
    ("erin@nowhere.example", "Stop mailing me newsletters, thanks."),
    ("bob@example.net", "I object to the use of my data for profiling. Please explain it."),
]


class Recorder:
    """aiosmtpd handler keeping every delivery."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


SECRET = "test-secret-key-0123456789abcdef-0123456789"


def letter(
    sender: str,
    subject: str,
    body: str,
    *,
    headers: dict[str, str] | None = None,
    in_reply_to: str | None = None,
) -> bytes:
    """A plain customer mail to the privacy address."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "privacy@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="customer.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes()


@dataclass
class Harness:
    """One desk on real servers; `deliver` a mail, `settle` until nothing is left to do."""

    desk: Desk
    dovecot: DovecotServer
    smtp: SmtpServer
    mailbox: str
    worker: OutboxWorker
    intake_task: asyncio.Task[None] | None = None

    @property
    def sent(self) -> list[EmailMessage]:
        return [r.parsed() for r in self.smtp.handler.received]

    def sent_to(self, address: str, template: str | None = None) -> list[EmailMessage]:
        """Mail delivered to `address`, optionally only one template (X-DSR-Template)."""
        return [
            m
            for m in self.sent
            if address in str(m["To"]) and (template is None or m["X-DSR-Template"] == template)
        ]

    async def deliver(self, raw: bytes) -> None:
        client = aioimaplib.IMAP4(self.dovecot.host, self.dovecot.port, timeout=10)
        await client.wait_hello_from_server()
        await client.login("bot", "botpass")
        await client.append(raw, mailbox=self.mailbox)
        await logout(client)

    async def cases(self) -> list[Case]:
        from sqlmodel import col, select

        async with self.desk.sessions() as s:
            return list((await s.exec(select(Case).order_by(col(Case.id)))).all())

    async def wait_for(self, cond: Callable[[], Any], limit: float = 20.0) -> None:
        async with asyncio.timeout(limit):
            while not await cond():
                if self.intake_task is not None and self.intake_task.done():
                    self.intake_task.result()  # re-raise what stopped the intake
                    raise AssertionError("the intake stopped")
                await asyncio.sleep(0.05)

    async def describe(self) -> str:
        """Each case's state, next action and mails, for a failing test's message."""
        from bot.case.store import outbox_of_case
        from storage.models import utcnow

        lines = [f"now {utcnow()}"]
        for case in await self.cases():
            async with self.desk.sessions() as s:
                rows = await outbox_of_case(s, case.id or 0)
            mails = [(r.template, r.status, r.next_attempt_at, r.last_error) for r in rows]
            lines.append(
                f"{case.reference} {case.state} {case.intents} next {case.next_action_at} "
                f"claimed {case.claimed_by} mails {mails}"
            )
        return "\n".join(lines)

    async def settle(self, rounds: int = 50) -> None:
        """Process recorded mail, advance cases and send mail until a round does nothing."""
        for _ in range(rounds):
            moved = await process_recorded(self.desk) + await advance_due(self.desk)
            sent = await self.worker.run_once()
            if not moved and not sent:
                return
        raise AssertionError("the desk did not settle")

    async def receive(self, raw: bytes, expect_cases: int | None = None) -> None:
        """Deliver through Dovecot and wait until intake recorded it."""
        from sqlmodel import func, select

        from storage.models import InboundMessage

        async def count() -> int:
            async with self.desk.sessions() as s:
                return int((await s.exec(select(func.count()).select_from(InboundMessage))).one())

        before = await count()
        await self.deliver(raw)
        await self.wait_for(lambda: _gt(count, before))
        await self.settle()


async def _gt(fn: Callable[[], Any], value: int) -> bool:
    return bool(await fn() > value)


def harness_settings(
    case_store_url: str,
    customers_url: str,
    dovecot: DovecotServer,
    smtp: SmtpServer,
    mailbox: str,
    tmp: Path,
    **extra: Any,
) -> Settings:
    return load_settings(
        database_url=case_store_url,
        customer_database_url=customers_url,
        secret_key=SECRET,
        privacy_address="privacy@example.com",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_user="bot",
        imap_password="botpass",
        imap_tls="none",
        imap_mailbox=mailbox,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_tls="none",
        maildir=tmp / "maildir",
        outbox_maildir=tmp / "outbox",
        smtp_receiver_port=0,
        **extra,
    )


async def open_test_desk(
    settings: Settings,
    model: IntentModel,
    tmp: Path,
    customers: Iterable[dict[str, Any]] = CUSTOMERS,
) -> Desk:
    """A desk on `settings`' stores with `customers` imported into a fresh reference store.

    The caller disposes `desk.engine` and `desk.executor.engine`.
    """
    engine = create_engine(settings.database_url)
    cust_engine = create_engine(settings.customer_database_url)
    await import_customers(cust_engine, [json.dumps(c) for c in customers])
    executor = await Executor.open(
        cust_engine, load_datamap(settings.datamap), RetentionLedger(engine)
    )
    return Desk(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        executor=executor,
        model=model,
        key=settings.secret_key_bytes(),
        policy=Policy(four_eyes_delete=settings.four_eyes_delete),
        packages_dir=tmp / "packages",
    )


@contextlib.asynccontextmanager
async def harness(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp: SmtpServer,
    model: IntentModel,
    tmp: Path,
    customers: Iterable[dict[str, Any]] = CUSTOMERS,
    **extra: Any,
) -> AsyncIterator[Harness]:
    mailbox = f"t{uuid.uuid4().hex[:10]}"
    client = aioimaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login("bot", "botpass")
    await client.create(mailbox)
    await logout(client)
    customers_url = f"sqlite+aiosqlite:///{tmp / 'customers.db'}"
    settings = harness_settings(case_store_url, customers_url, dovecot, smtp, mailbox, tmp, **extra)
    # Like `dsr run` and every `dsr` command, the desk keys the audit chain (the key derived
    # from DSR_SECRET_KEY), so tests may mix the harness with `dsr` commands.
    key_token = audit.use_key(settings.audit_key_bytes())
    seal_token = sealing.use_keyring(settings.keyring())
    desk = await open_test_desk(settings, model, tmp, customers)
    engine = desk.engine
    worker = OutboxWorker(
        engine=engine,
        worker_id="test",
        dispatch={"mail": mail_dispatch(settings, build_sender(settings))},
    )
    intake = ImapIntake(
        ImapConfig(
            dovecot.host,
            dovecot.port,
            "bot",
            "botpass",
            "none",
            mailbox,
            poll_interval=0.2,
            use_idle=True,
        )
    )
    h = Harness(desk, dovecot, smtp, mailbox, worker)
    h.intake_task = asyncio.create_task(intake.run_batches(recorder(desk), CaseStoreUidState(desk)))
    async with asyncio.timeout(20):
        await intake.idling.wait()
    try:
        yield h
    finally:
        h.intake_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await h.intake_task
        await desk.executor.engine.dispose()
        await engine.dispose()
        sealing.reset_keyring(seal_token)
        audit.reset_key(key_token)


def plain_text(msg: EmailMessage) -> str:
    """The text/plain body of a mail the desk sent."""
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())
