"""IMAP intake with aioimaplib: UID-based reading, IDLE (or polling), reconnect with backoff.

A message is flagged (`\\Seen $Processed`) or flagged and moved to quarantine only after the
handler returned, i.e. after the handler committed its record of the message (the case comes
later, from that record). A crash in between means the message is fetched again and the handler,
which dedupes by Message-ID, sees it twice; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, TypeVar

import aioimaplib

from mail.errors import MailConnectionError
from mail.imap_proto import (
    FetchItem,
    fetch_items,
    mailbox_grew,
    search_uids,
    select_codes,
    uid_set,
)
from mail.intake import BatchHandler, Fetched, Handler, Outcome, UidStateStore, one_by_one
from mail.retry import backoff

log = logging.getLogger(__name__)

T = TypeVar("T")
TlsMode = Literal["none", "starttls", "tls"]
PROCESSED_KEYWORD = "$Processed"
QUARANTINED_KEYWORD = "$Quarantined"
META = "(UID FLAGS RFC822.SIZE)"
# aioimaplib rescans a FETCH response's lines on each new line (quadratic): keep them short.
FETCH_CHUNK = 25
_NETWORK_ERRORS = (OSError, TimeoutError, aioimaplib.AioImapException, ssl.SSLError, EOFError)


class _Refused(MailConnectionError):
    """The server answered NO/BAD to login, STARTTLS or SELECT: a configuration problem."""


@dataclass(frozen=True, slots=True)
class ImapConfig:
    """Where the mailbox is and how to read it (`DSR_IMAP_*`).

    Args:
        host, port, user, password: the mailbox account (the password is left out of `repr`).
        tls: "none", "starttls" (required) or "tls" (implicit, usually port 993).
        mailbox: the folder to read (`DSR_IMAP_MAILBOX`).
        quarantine_mailbox: where unusable messages are moved (created when missing).
        use_idle: use IDLE when the server offers it; otherwise poll every `poll_interval` s.
        idle_refresh: re-issue IDLE (and re-check the mailbox) after this many seconds; RFC 2177
            asks for less than 29 min, and a re-check bounds any missed notification.
        timeout: seconds allowed for each command and for connecting.
        batch_count, batch_bytes: fetch and hand over at most this many messages (at least
            one), and about this many bytes, at a time.
        max_fetch_bytes: larger messages are fetched header-only (`Fetched.truncated`).
        backoff_base, backoff_cap: reconnect delays in seconds (doubling, with jitter).

    Raises:
        ValueError: an unknown `tls` mode.
    """

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    tls: TlsMode = "tls"
    mailbox: str = "INBOX"
    _: KW_ONLY
    quarantine_mailbox: str = "Quarantine"
    use_idle: bool = True
    idle_refresh: float = 10 * 60.0
    poll_interval: float = 30.0
    timeout: float = 30.0
    batch_count: int = 500
    batch_bytes: int = 8 * 1024 * 1024
    max_fetch_bytes: int = 25 * 1024 * 1024
    backoff_base: float = 0.5
    backoff_cap: float = 60.0

    def __post_init__(self) -> None:
        if self.tls not in ("none", "starttls", "tls"):
            raise ValueError(f"DSR_IMAP_TLS={self.tls!r} is not one of none, starttls, tls")


class ImapIntake:
    """Reads one mailbox and hands each new message to a handler, forever.

    Args:
        config: the account, folders, timeouts, batch sizes and backoff.
        ssl_context: trust settings for tls/starttls (default: the system's CAs).
        rand: the jitter source for reconnect delays (injected for tests).
    """

    def __init__(
        self,
        config: ImapConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._batch_count = max(1, config.batch_count)
        self._ssl_context, self._rand = ssl_context, rand
        self.sessions = 0  # successful SELECTs so far, for health checks and tests
        self.idling = asyncio.Event()  # set while an IDLE is active
        self._closed = asyncio.Event()
        self._closed.set()
        self._failures = 0

    async def run(self, handler: Handler, state: UidStateStore) -> None:
        """Read the mailbox until cancelled, reconnecting after network errors.

        Args:
            handler: called once per new message; flagging waits for its outcome.
            state: where the last processed UID and the UIDVALIDITY are kept.

        Raises:
            MailConnectionError: login, STARTTLS or SELECT was refused before any session
                succeeded (a configuration error: wrong password, mailbox, TLS mode).
            Exception: whatever `handler` raises propagates; the message stays unflagged.
        """
        await self.run_batches(one_by_one(handler), state)

    async def run_batches(self, handler: BatchHandler, state: UidStateStore) -> None:
        """Like `run`, but hands over up to `batch_count` messages at once.

        A handler that records a whole batch in one transaction reads a backlog many times
        faster than one commit per message; flags still follow the commit.

        Raises:
            MailConnectionError: as `run`.
            ValueError: the handler returned a different number of outcomes than items.
            Exception: whatever `handler` raises propagates; the batch stays unflagged.
        """
        self._closed.clear()
        try:
            while True:
                try:
                    await self._session(handler, state)
                except MailConnectionError as exc:
                    if isinstance(exc, _Refused) and self.sessions == 0:
                        raise
                    self._failures += 1
                    delay = backoff(
                        self._failures,
                        base=self.config.backoff_base,
                        cap=self.config.backoff_cap,
                        rand=self._rand(),
                    )
                    log.warning(
                        "imap %s:%s: %s; reconnecting in %.1f s (failure %s)",
                        self.config.host,
                        self.config.port,
                        exc,
                        delay,
                        self._failures,
                    )
                    await asyncio.sleep(delay)
        finally:
            self.idling.clear()
            self._closed.set()

    async def wait_closed(self) -> None:
        """Wait until `run()` has returned or been cancelled and closed its connection."""
        await self._closed.wait()

    # -- one connection -------------------------------------------------------------------

    async def _session(self, handler: BatchHandler, state: UidStateStore) -> None:
        lost = asyncio.Event()
        client = await self._connect(lost)
        try:
            await self._ensure_mailbox(client, lost, self.config.quarantine_mailbox)
            resp = await self._call(client.select(self.config.mailbox), lost)
            if resp.result != "OK":
                raise _Refused(
                    f"SELECT of the configured DSR_IMAP_MAILBOX refused: {_last(resp)}; "
                    "check that the folder exists"
                )
            try:
                validity, _ = select_codes(resp.lines)
            except ValueError as exc:
                raise _Refused(str(exc)) from exc
            stored = await state.load(self.config.mailbox)
            last = 0
            if stored is not None and stored[0] == validity:
                last = stored[1]
            elif stored is not None:
                log.warning(
                    "imap UIDVALIDITY changed from %s to %s: re-scanning the whole mailbox",
                    stored[0],
                    validity,
                )
            self.sessions += 1
            self._failures = 0
            log.info("imap session %s: uidvalidity=%s last_uid=%s", self.sessions, validity, last)
            while True:
                last = await self._drain(client, lost, handler, state, validity, last)
                await self._wait_for_news(client, lost)
        finally:
            self._close(client)

    async def _connect(self, lost: asyncio.Event) -> aioimaplib.IMAP4:
        # timeout=None: `_call` bounds every step itself, and the library's own timeout re-arms
        # a timer on every response line (a fifth of a large fetch's CPU).
        try:
            if self.config.tls == "tls":
                ctx = self._ssl_context or ssl.create_default_context()
                client = aioimaplib.IMAP4_SSL(
                    self.config.host, self.config.port, timeout=None, ssl_context=ctx
                )
            else:
                client = aioimaplib.IMAP4(self.config.host, self.config.port, timeout=None)
        except _NETWORK_ERRORS as exc:
            raise MailConnectionError(f"cannot connect: {type(exc).__name__}: {exc}") from exc
        client.protocol.conn_lost_cb = lambda exc: lost.set()
        try:
            await self._call(client.wait_hello_from_server(), lost)
            if self.config.tls == "starttls":
                await self._starttls(client, lost)
            resp = await self._call(client.login(self.config.user, self.config.password), lost)
        except BaseException:
            self._close(client)
            raise
        if resp.result != "OK":
            self._close(client)
            raise _Refused(
                f"login refused ({_last(resp)}); check DSR_IMAP_USER and DSR_IMAP_PASSWORD"
            )
        return client

    async def _starttls(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        proto = client.protocol
        if "STARTTLS" not in proto.capabilities:
            raise _Refused("server does not offer STARTTLS; set DSR_IMAP_TLS=tls or none")
        command = aioimaplib.Command("STARTTLS", proto.new_tag(), loop=proto.loop)
        resp = await self._call(proto.execute(command), lost)
        if resp.result != "OK":
            raise _Refused(f"STARTTLS refused ({_last(resp)}); set DSR_IMAP_TLS=tls or none")
        ctx = self._ssl_context or ssl.create_default_context()
        loop = asyncio.get_running_loop()
        transport = await self._call(
            loop.start_tls(proto.transport, proto, ctx, server_hostname=self.config.host), lost
        )
        proto.transport = transport
        await self._call(proto.capability(), lost)  # RFC 3501: capabilities may change

    async def _ensure_mailbox(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, name: str
    ) -> None:
        resp = await self._call(client.create(name), lost)
        if resp.result != "OK" and b"ALREADYEXISTS" not in b" ".join(map(bytes, resp.lines)):
            log.warning("imap could not create the quarantine folder: %s", _last(resp))

    # -- reading --------------------------------------------------------------------------

    async def _drain(
        self,
        client: aioimaplib.IMAP4,
        lost: asyncio.Event,
        handler: BatchHandler,
        state: UidStateStore,
        validity: int,
        last: int,
    ) -> int:
        """Process every message above `last`; return the new last UID.

        The next batch is fetched while the handler works on the current one; flags are
        stored only after that fetch is answered, so one command at a time is on the wire.
        """
        while True:
            resp = await self._call(client.uid_search("UID", f"{last + 1}:*"), lost)
            uids = [u for u in search_uids(resp.lines) if u > last]
            if not uids:
                if mailbox_grew(resp.lines):
                    continue  # it arrived during the search: search again, do not IDLE past it
                return last
            meta: list[FetchItem] = []
            for i in range(0, len(uids), FETCH_CHUNK):
                meta += await self._fetch(client, lost, uids[i : i + FETCH_CHUNK], META)
            plan = self._batches(meta)
            loading = asyncio.ensure_future(self._load(client, lost, plan[0], validity))
            try:
                for n, batch in enumerate(plan):
                    items = await loading
                    if n + 1 < len(plan):
                        nxt = self._load(client, lost, plan[n + 1], validity)
                        loading = asyncio.ensure_future(nxt)
                    outcomes = list(await handler(items)) if items else []
                    if len(outcomes) != len(items):
                        raise ValueError(
                            f"batch handler returned {len(outcomes)} outcomes "
                            f"for {len(items)} messages"
                        )
                    await asyncio.wait({loading})  # keep STORE after the prefetch's FETCH
                    await self._flag(client, lost, items, outcomes)
                    last = max(last, *(m.uid for m in batch))
                    await state.save(self.config.mailbox, validity, last)
            finally:
                if not loading.done():
                    loading.cancel()
                    await asyncio.wait({loading})
                elif not loading.cancelled():
                    loading.exception()  # retrieved: a lost connection is reported elsewhere

    def _batches(self, meta: list[FetchItem]) -> list[list[FetchItem]]:
        """Split by count and by bytes; messages already flagged stay in for the UID count."""
        batches: list[list[FetchItem]] = [[]]
        size = 0
        for item in sorted(meta, key=lambda m: m.uid):
            weight = min(item.size or 0, self.config.max_fetch_bytes)
            full = len(batches[-1]) >= self._batch_count or size + weight > self.config.batch_bytes
            if batches[-1] and full:
                batches.append([])
                size = 0
            batches[-1].append(item)
            size += weight
        return [b for b in batches if b]

    async def _load(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, batch: list[FetchItem], validity: int
    ) -> list[Fetched]:
        """Fetch the bodies of a batch (headers only above `max_fetch_bytes`)."""
        todo = [m for m in batch if PROCESSED_KEYWORD not in m.flags]
        small = [m.uid for m in todo if (m.size or 0) <= self.config.max_fetch_bytes]
        large = [m.uid for m in todo if (m.size or 0) > self.config.max_fetch_bytes]
        bodies: dict[int, bytes] = {}
        for i in range(0, len(small), FETCH_CHUNK):
            chunk = small[i : i + FETCH_CHUNK]
            for item in await self._fetch(client, lost, chunk, "(UID BODY.PEEK[])"):
                bodies[item.uid] = item.body or b""
        if large:
            for item in await self._fetch(client, lost, large, "(UID BODY.PEEK[HEADER])"):
                bodies[item.uid] = item.body or b""
        return [
            Fetched(
                raw=bodies[m.uid],
                source=f"imap:{self.config.mailbox}:{validity}:{m.uid}",
                uid=m.uid,
                uidvalidity=validity,
                mailbox=self.config.mailbox,
                size=m.size,
                truncated=m.uid in large,
            )
            for m in todo
            if m.uid in bodies  # else expunged by someone else meanwhile
        ]

    async def _fetch(
        self, client: aioimaplib.IMAP4, lost: asyncio.Event, uids: list[int], parts: str
    ) -> list[FetchItem]:
        resp = await self._call(client.uid("fetch", uid_set(uids), parts), lost)
        if resp.result != "OK":
            raise MailConnectionError(f"UID FETCH failed: {_last(resp)}")
        return fetch_items(resp.lines)

    async def _flag(
        self,
        client: aioimaplib.IMAP4,
        lost: asyncio.Event,
        items: list[Fetched],
        outcomes: list[Outcome],
    ) -> None:
        pairs = list(zip(items, outcomes, strict=True))
        done = [f.uid for f, o in pairs if o is not Outcome.QUARANTINE and f.uid is not None]
        bad = [f.uid for f, o in pairs if o is Outcome.QUARANTINE and f.uid is not None]
        if done:
            flags = f"(\\Seen {PROCESSED_KEYWORD})"
            await self._call(client.uid("store", uid_set(done), "+FLAGS.SILENT", flags), lost)
        if bad:
            flags = f"({PROCESSED_KEYWORD} {QUARANTINED_KEYWORD})"
            await self._call(client.uid("store", uid_set(bad), "+FLAGS.SILENT", flags), lost)
            verb = "move" if client.has_capability("MOVE") else "copy"
            resp = await self._call(
                client.uid(verb, uid_set(bad), self.config.quarantine_mailbox), lost
            )
            if resp.result != "OK":  # still kept and flagged in place; never deleted
                log.warning("imap could not %s to quarantine: %s", verb, _last(resp))
            log.info("imap quarantined uids=%s", uid_set(bad))

    # -- waiting --------------------------------------------------------------------------

    async def _wait_for_news(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        if self.config.use_idle and client.has_capability("IDLE"):
            await self._idle(client, lost)
            return
        try:
            async with asyncio.timeout(self.config.poll_interval):
                await lost.wait()
        except TimeoutError:
            await self._call(client.noop(), lost)
            return
        raise MailConnectionError("connection lost while polling")

    async def _idle(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        idle = await self._call(client.idle_start(timeout=self.config.idle_refresh), lost)
        self.idling.set()
        try:
            while True:
                push = await self._call(client.wait_server_push(), lost, forever=True)
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break  # refresh the IDLE
                lines = [bytes(x) for x in push]
                if any(x.startswith(b"BYE") for x in lines):
                    raise MailConnectionError("server closed the connection (BYE) during IDLE")
                if any(x.endswith(b"EXISTS") for x in lines):
                    break
        finally:
            self.idling.clear()
        client.idle_done()
        await self._call(asyncio.shield(idle), lost)

    # -- plumbing -------------------------------------------------------------------------

    async def _call(self, aw: Awaitable[T], lost: asyncio.Event, *, forever: bool = False) -> T:
        """Await one IMAP step, failing fast when the connection drops or the step times out.

        Raises:
            MailConnectionError: network error, timeout, protocol abort or lost connection.
        """
        limit = None if forever else self.config.timeout
        task: asyncio.Future[T] = asyncio.ensure_future(aw)
        watcher: asyncio.Future[Any] = asyncio.ensure_future(lost.wait())
        waiting: set[asyncio.Future[Any]] = {task, watcher}
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            watcher.cancel()
            if not task.done():
                task.cancel()
        if task in done:
            try:
                return task.result()
            except ssl.SSLCertVerificationError as exc:
                raise _Refused(
                    f"the server's TLS certificate is not trusted ({exc.verify_message}); "
                    "check DSR_IMAP_HOST and the CA bundle"
                ) from exc
            except _NETWORK_ERRORS as exc:
                raise MailConnectionError(f"{type(exc).__name__}: {exc}") from exc
        if lost.is_set():
            raise MailConnectionError("the server closed the connection")
        raise MailConnectionError(f"no answer within {limit} s")

    def _close(self, client: aioimaplib.IMAP4) -> None:
        """Drop the connection and every task aioimaplib keeps for it."""
        for task in [*client.tasks, *client.protocol.tasks]:
            task.cancel()
        transport: Any = client.protocol.transport
        if transport is not None:
            transport.close()
        elif not client._client_task.done():
            client._client_task.cancel()


def _last(resp: Any) -> str:
    lines = getattr(resp, "lines", None) or [b""]
    return bytes(lines[-1]).decode("utf-8", "replace")[:200]
