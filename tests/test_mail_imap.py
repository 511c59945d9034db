"""Tests for mail.imap against a real Dovecot: flags after commit, quarantine, IDLE, restarts,
UIDVALIDITY changes, polling, oversize messages and clean cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
from collections.abc import AsyncIterator, Callable

import aioimaplib
import pytest

from mail.errors import MailConnectionError
from mail.imap import ImapConfig, ImapIntake
from mail.imap_proto import fetch_items
from mail.intake import Fetched, InMemoryUidState, Outcome
from mail.parse import parse_message
from tests.servers.dovecot import DovecotServer, start_dovecot

_names = itertools.count()


def raw_message(n: int, body: str = "Please send me my data.") -> bytes:
    return (
        f"From: Alice <alice@customer.example>\r\nTo: privacy@shop.example\r\n"
        f"Subject: request {n}\r\nMessage-ID: <m{n}@customer.example>\r\n\r\n{body}\r\n"
    ).encode()


class Admin:
    """A second IMAP connection, as the outside world: appends and inspects."""

    def __init__(self, client: aioimaplib.IMAP4) -> None:
        self.client = client

    async def append(self, mailbox: str, raw: bytes) -> None:
        resp = await self.client.append(raw, mailbox=mailbox)
        assert resp.result == "OK", resp

    async def flags(self, mailbox: str) -> dict[int, frozenset[str]]:
        await self.client.select(mailbox)
        resp = await self.client.uid("fetch", "1:*", "(UID FLAGS)")
        await self.client.close()
        return {item.uid: item.flags for item in fetch_items(resp.lines)}


@pytest.fixture
async def admin(dovecot: DovecotServer) -> AsyncIterator[Admin]:
    client = aioimaplib.IMAP4(dovecot.host, dovecot.port, timeout=5)
    await client.wait_hello_from_server()
    await client.login("bot", "botpass")
    yield Admin(client)
    transport = client.protocol.transport
    if transport is not None and not transport.is_closing():  # a restart may have dropped it
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.logout(), 1)
        transport.close()


@pytest.fixture
async def mailbox(admin: Admin) -> str:
    name = f"t{next(_names)}"
    assert (await admin.client.create(name)).result == "OK"
    return name


class Recorder:
    """A handler like the bot's: commits by Message-ID, so a second sight is not a duplicate."""

    def __init__(self, verdict: Callable[[Fetched], Outcome] | None = None) -> None:
        self.calls: list[Fetched] = []
        self.committed: dict[str, Fetched] = {}
        self.verdict = verdict or (lambda f: Outcome.PROCESSED)
        self.arrived_at: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def __call__(self, item: Fetched) -> Outcome:
        self.calls.append(item)
        msg = parse_message(item.raw, trusted_authserv_id=None, max_bytes=10_000_000)
        self.committed.setdefault(msg.message_id, item)
        self.arrived_at.setdefault(msg.message_id, time.monotonic())
        self.changed.set()
        return self.verdict(item)

    async def wait_committed(self, n: int, seconds: float = 10.0) -> None:
        await self.wait_calls(n, seconds, distinct=True)

    async def wait_calls(self, n: int, seconds: float = 10.0, *, distinct: bool = False) -> None:
        async with asyncio.timeout(seconds):
            while len(self.committed if distinct else self.calls) < n:
                self.changed.clear()
                await self.changed.wait()


def intake(
    server: DovecotServer,
    mailbox: str,
    port: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    **kw: object,
) -> ImapIntake:
    options: dict[str, object] = {
        "tls": "none",
        "quarantine_mailbox": f"{mailbox}-quarantine",
        "timeout": 5.0,
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
    }
    options.update(kw)
    config = ImapConfig(
        server.host,
        port or server.port,
        "bot",
        "botpass",
        mailbox=mailbox,
        **options,  # type: ignore[arg-type]
    )
    return ImapIntake(config, ssl_context=ssl_context)


@contextlib.asynccontextmanager
async def running(
    reader: ImapIntake, handler: Recorder, state: InMemoryUidState
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(reader.run(handler, state))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.wait_for(reader.wait_closed(), 5)


async def test_processes_backlog_then_flags_and_saves_state(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    for n in range(3):
        await admin.append(mailbox, raw_message(n))
    rec, state = Recorder(), InMemoryUidState()
    reader = intake(dovecot, mailbox)
    async with running(reader, rec, state):
        await rec.wait_committed(3)
        await asyncio.wait_for(reader.idling.wait(), 5)
    assert [c.uid for c in rec.calls] == [1, 2, 3]
    assert all(c.source == f"imap:{mailbox}:{c.uidvalidity}:{c.uid}" for c in rec.calls)
    flags = await admin.flags(mailbox)
    assert all({"$Processed", "\\Seen"} <= f for f in flags.values())
    assert state.state[mailbox][1] == 3


async def test_flags_only_after_the_handler_returns(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    await admin.append(mailbox, raw_message(1))
    seen_flags: list[frozenset[str]] = []

    async def handler(item: Fetched) -> Outcome:
        seen_flags.extend((await admin.flags(mailbox)).values())
        raise RuntimeError("database unavailable")

    reader = intake(dovecot, mailbox)
    with pytest.raises(RuntimeError, match="database unavailable"):
        await asyncio.wait_for(reader.run(handler, InMemoryUidState()), 10)
    assert seen_flags and "$Processed" not in seen_flags[0]
    assert "$Processed" not in (await admin.flags(mailbox))[1]  # still there for the next run
    await asyncio.wait_for(reader.wait_closed(), 1)


async def test_unparseable_is_moved_to_quarantine_never_deleted(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    await admin.append(mailbox, raw_message(1))
    await admin.append(mailbox, raw_message(2, body="garbage"))
    rec = Recorder(lambda f: Outcome.QUARANTINE if b"garbage" in f.raw else Outcome.PROCESSED)
    async with running(intake(dovecot, mailbox), rec, InMemoryUidState()):
        await rec.wait_committed(2)
        await asyncio.sleep(0.3)  # the move follows the handler
    assert list((await admin.flags(mailbox)).keys()) == [1]
    quarantined = await admin.flags(f"{mailbox}-quarantine")
    assert len(quarantined) == 1
    assert {"$Processed", "$Quarantined"} <= next(iter(quarantined.values()))


async def test_idle_delivers_new_mail_quickly(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    rec = Recorder()
    reader = intake(dovecot, mailbox)
    async with running(reader, rec, InMemoryUidState()):
        await asyncio.wait_for(reader.idling.wait(), 5)
        sent = time.monotonic()
        await admin.append(mailbox, raw_message(7))
        await rec.wait_committed(1, seconds=5)
    # Dovecot notifies IDLE clients about 0.5 s after the change
    assert rec.arrived_at["<m7@customer.example>"] - sent < 3.0


async def test_dovecot_restart_during_idle_reconnects_and_loses_nothing(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    await admin.append(mailbox, raw_message(1))
    rec, state = Recorder(), InMemoryUidState()
    reader = intake(dovecot, mailbox)
    try:
        async with running(reader, rec, state):
            await rec.wait_committed(1)
            await asyncio.wait_for(reader.idling.wait(), 5)
            await asyncio.to_thread(dovecot.restart)
            # mail that arrives while we reconnect is picked up by the catch-up search
            client = aioimaplib.IMAP4(dovecot.host, dovecot.port, timeout=5)
            await client.wait_hello_from_server()
            await client.login("bot", "botpass")
            await client.append(raw_message(2), mailbox=mailbox)
            await rec.wait_committed(2, seconds=10)
            await client.logout()
            assert reader.sessions >= 2
    finally:
        if dovecot.proc is None:
            dovecot.start()
    assert [c.uid for c in rec.calls] == [1, 2]  # nothing handed out twice


async def test_server_killed_then_back_later(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    rec = Recorder()
    reader = intake(dovecot, mailbox)
    try:
        async with running(reader, rec, InMemoryUidState()):
            await asyncio.wait_for(reader.idling.wait(), 5)
            dovecot.kill()
            await asyncio.sleep(1.0)  # several refused reconnects, with backoff
            assert reader.sessions == 1 and not reader.idling.is_set()
            await asyncio.to_thread(dovecot.start)
            await asyncio.wait_for(reader.idling.wait(), 10)
            assert reader.sessions == 2
    finally:
        if dovecot.proc is None:
            dovecot.start()


async def test_uidvalidity_change_rescans_without_duplicates(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    for n in range(3):
        await admin.append(mailbox, raw_message(n))
    rec, state = Recorder(), InMemoryUidState()
    reader = intake(dovecot, mailbox)
    async with running(reader, rec, state):
        await rec.wait_committed(3)
        await asyncio.wait_for(reader.idling.wait(), 5)
    old_validity = state.state[mailbox][0]
    # The mailbox is rebuilt (as after a server migration): same mail, new UIDVALIDITY, no flags.
    assert (await admin.client.delete(mailbox)).result == "OK"
    assert (await admin.client.create(mailbox)).result == "OK"
    for n in range(4):
        await admin.append(mailbox, raw_message(n))
    reader = intake(dovecot, mailbox)
    async with running(reader, rec, state):
        await rec.wait_calls(7)
        await asyncio.wait_for(reader.idling.wait(), 5)
    assert state.state[mailbox][0] != old_validity
    assert len(rec.calls) == 7  # every message handed over again ...
    assert len(rec.committed) == 4  # ... and the Message-ID dedupe keeps one record each


async def test_polling_when_idle_is_off(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    rec = Recorder()
    reader = intake(dovecot, mailbox, use_idle=False, poll_interval=0.1)
    async with running(reader, rec, InMemoryUidState()):
        await admin.append(mailbox, raw_message(4))
        await rec.wait_committed(1, seconds=5)  # the backlog
        await admin.append(mailbox, raw_message(5))
        await rec.wait_committed(2, seconds=5)  # found by a later poll
        assert not reader.idling.is_set()


async def test_oversize_message_is_fetched_header_only(
    dovecot: DovecotServer,
    admin: Admin,
    mailbox: str,
) -> None:
    await admin.append(mailbox, raw_message(1, body="x" * 50_000))
    rec = Recorder()
    async with running(intake(dovecot, mailbox, max_fetch_bytes=10_000), rec, InMemoryUidState()):
        await rec.wait_committed(1)
    item = rec.calls[0]
    assert item.truncated and item.size is not None and item.size > 50_000
    assert b"x" * 100 not in item.raw
    parsed = parse_message(
        item.raw, trusted_authserv_id=None, max_bytes=10_000, declared_size=item.size
    )
    assert parsed.oversize and parsed.message_id == "<m1@customer.example>"


async def test_wrong_password_and_missing_starttls_fail_fast(dovecot: DovecotServer) -> None:
    # its own plain server: Dovecot slows every later login from this IP after a failed one
    own = await asyncio.to_thread(start_dovecot)
    try:
        reader = ImapIntake(
            ImapConfig(own.host, own.port, "bot", "botpass", tls="starttls", timeout=5)
        )
        with pytest.raises(MailConnectionError, match="does not offer STARTTLS"):
            await asyncio.wait_for(reader.run(Recorder(), InMemoryUidState()), 10)
        reader = ImapIntake(ImapConfig(own.host, own.port, "bot", "wrong", tls="none", timeout=5))
        with pytest.raises(MailConnectionError, match="DSR_IMAP_PASSWORD"):
            await asyncio.wait_for(reader.run(Recorder(), InMemoryUidState()), 10)
    finally:
        await asyncio.to_thread(own.destroy)


async def test_missing_mailbox_fails_fast(dovecot: DovecotServer) -> None:
    reader = intake(dovecot, "no-such-folder")
    with pytest.raises(MailConnectionError, match="DSR_IMAP_MAILBOX"):
        await asyncio.wait_for(reader.run(Recorder(), InMemoryUidState()), 10)


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_encrypted_connections(
    dovecot: DovecotServer, admin: Admin, mailbox: str, mode: str
) -> None:
    await admin.append(mailbox, raw_message(1))
    port = dovecot.tls_port if mode == "tls" else dovecot.port
    assert port is not None
    rec = Recorder()
    reader = intake(dovecot, mailbox, tls=mode, port=port, ssl_context=dovecot.client_ssl_context())
    async with running(reader, rec, InMemoryUidState()):
        await rec.wait_committed(1)
        await asyncio.wait_for(reader.idling.wait(), 5)
        await admin.append(mailbox, raw_message(2))
        await rec.wait_committed(2, seconds=5)


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_untrusted_certificate_fails_fast(
    dovecot: DovecotServer, mailbox: str, mode: str
) -> None:
    port = dovecot.tls_port if mode == "tls" else dovecot.port
    assert port is not None
    reader = intake(dovecot, mailbox, tls=mode, port=port)  # system CAs: the test CA is unknown
    with pytest.raises(MailConnectionError, match="certificate is not trusted"):
        await asyncio.wait_for(reader.run(Recorder(), InMemoryUidState()), 10)


async def test_idle_is_refreshed_in_place(
    dovecot: DovecotServer, admin: Admin, mailbox: str
) -> None:
    rec = Recorder()
    reader = intake(dovecot, mailbox, idle_refresh=0.3)
    async with running(reader, rec, InMemoryUidState()):
        await asyncio.wait_for(reader.idling.wait(), 5)
        await asyncio.sleep(1.0)  # about three IDLE refreshes
        await admin.append(mailbox, raw_message(3))
        await rec.wait_committed(1, seconds=5)
    assert reader.sessions == 1  # no reconnect was needed
