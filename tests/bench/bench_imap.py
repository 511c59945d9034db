"""IMAP intake benchmark against a real Dovecot: throughput and arrival-to-commit latency.

    python tests/bench/bench_imap.py [--realistic] [--messages 2000] [--batch 500] [--db URL]

1. Appends N messages (a mix of the tests/data samples, or with --realistic ~7 KB mail shaped
   like real customer mail), each with its own Message-ID.
2. Bare aioimaplib fetch loops over them: one UID FETCH per message, and batches of 100.
3. `ImapIntake.run_batches` reads the same mailbox as `dsr run` does: its handler
   (`bot.work.mailbox.recorder` -> `bot.work.intake.record`) scans each header for the
   Message-ID, hashes the message and commits its `InboundMessage` row, one transaction per
   batch, on a real desk over a temp SQLite case store; the intake flags the messages after the
   commit and saves its UID progress in the case store (`CaseStoreUidState`). `--per-message`:
   one commit each.
4. Stage two's parse (`mail.parse.parse_message`, the full MIME parse, body to text, quote
   stripping) over the same recorded messages, on one core: the rate at which the desk turns
   records into parsed messages (classification and case opening are in bench_agent.py).
5. With the intake idling, appends messages one by one and measures arrival (APPEND answered)
   to commit; Dovecot itself delays IDLE notifications by about 0.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import aioimaplib
from sqlalchemy import delete

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.settings import load_settings
from bot.work.desk import Desk
from bot.work.mailbox import CaseStoreUidState, recorder
from intents.classify import load_model
from mail.envelope import first_look
from mail.imap import ImapConfig, ImapIntake
from mail.imap_proto import search_uids
from mail.intake import Fetched, Outcome
from mail.parse import ParsedMessage, parse_message
from storage.migrate import upgrade_async
from storage.models import InboundMessage, MailboxState
from tests.agent_harness import CUSTOMERS, open_test_desk
from tests.servers.dovecot import DovecotServer, start_dovecot

DATA = Path(__file__).resolve().parents[1] / "data"
MAX_BYTES = 10 * 1024 * 1024
BATCH = 500  # ImapIntake's default batch_count, which dsr run uses


PARAGRAPH = (
    "I am writing about the personal data your company holds about me. I created an account "
    "some years ago and have since moved house, changed my phone number and stopped using the "
    "service. Please let me know what you still store, who you shared it with, and for how long "
    "you intend to keep it. "
)


def realistic(i: int, tag: str) -> bytes:
    """A message shaped like real customer mail: relay headers, DKIM, text + HTML, a quote."""
    text = (
        f"Hello,\n\n{PARAGRAPH * 3}\n\nKind regards,\nCustomer {i}\n\n-- \nSent from my phone\n\n"
        "On Mon, 2 Nov 2026 at 10:00, Privacy team <privacy@shop.example> wrote:\n"
        + "".join(f"> {PARAGRAPH}\n" for _ in range(6))
    )
    html = (
        "<html><body>" + "".join(f"<p>{line}</p>" for line in text.split("\n")) + "</body></html>"
    )
    received = "".join(
        f"Received: from mx{k}.relay.example (mx{k}.relay.example [192.0.2.{k}])\r\n"
        f"\tby mx.shop.example (Postfix) with ESMTPS id 4Q{i:05d}{k}\r\n"
        f"\tfor <privacy@shop.example>; Mon, 2 Nov 2026 10:0{k}:00 +0100\r\n"
        for k in range(3)
    )
    dkim = (
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=customer.example; s=s1;\r\n"
        "\th=from:to:subject:date:message-id; bh=" + "A" * 44 + ";\r\n\tb=" + "B" * 340 + "\r\n"
    )
    head = (
        f"Return-Path: <c{i}@customer.example>\r\n{received}{dkim}"
        "Authentication-Results: mx.shop.example; dkim=pass header.d=customer.example;"
        " spf=pass smtp.mailfrom=customer.example; dmarc=pass header.from=customer.example\r\n"
        f"From: Customer {i} <c{i}@customer.example>\r\nTo: privacy@shop.example\r\n"
        f"Subject: Re: [DSR-{i}] Your request\r\nDate: Mon, 2 Nov 2026 10:05:00 +0100\r\n"
        f"Message-ID: <{tag}-{i}@bench.example>\r\nIn-Reply-To: <DSR-{i}.1.ab@shop.example>\r\n"
        f"References: <DSR-{i}.1.ab@shop.example>\r\nMIME-Version: 1.0\r\n"
        "X-Mailer: ExampleMail 12.3\r\n"
        'Content-Type: multipart/alternative; boundary="b1"\r\n'
    )
    body = (
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + text.replace("\n", "\r\n")
        + "\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html
        + "\r\n--b1--\r\n"
    )
    return (head + "\r\n" + body).encode()


def corpus(n: int, tag: str, *, real: bool = False) -> list[bytes]:
    if real:
        return [realistic(i, tag) for i in range(n)]
    return samples_corpus(n, tag)


def samples_corpus(n: int, tag: str) -> list[bytes]:
    samples = [p.read_bytes() for p in sorted(DATA.glob("mail_*.eml"))]
    out = []
    for i in range(n):
        raw = samples[i % len(samples)]
        head, _, body = raw.partition(b"\n\n")
        lines = [x for x in head.split(b"\n") if not x.lower().startswith(b"message-id:")]
        lines.insert(0, f"Message-ID: <{tag}-{i}@bench.example>".encode())
        out.append(b"\r\n".join(lines) + b"\r\n\r\n" + body.replace(b"\n", b"\r\n"))
    return out


class DelayProxy:
    """A loopback TCP proxy that delivers every chunk `one_way` seconds late, in order.

    Simulates a network round trip of 2 x `one_way` for the bench's own connections only
    (nothing else on the machine is affected); throughput is not limited.
    """

    def __init__(self, upstream: tuple[str, int], one_way: float) -> None:
        self.upstream, self.one_way = upstream, one_way
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while data := await reader.read(65536):
            loop.call_at(loop.time() + self.one_way, writer.write, data)
        loop.call_at(loop.time() + self.one_way, writer.close)


TARGET: dict[str, int] = {}  # the port the measured clients use (Dovecot or the proxy)


async def connect(server: DovecotServer, *, measured: bool = False) -> aioimaplib.IMAP4:
    port = TARGET.get("port", server.port) if measured else server.port
    client = aioimaplib.IMAP4(server.host, port, timeout=30)
    await client.wait_hello_from_server()
    await client.login("bot", "botpass")
    return client


async def append_all(server: DovecotServer, mailbox: str, messages: list[bytes]) -> float:
    async def worker(chunk: list[bytes]) -> None:
        client = await connect(server)
        for raw in chunk:
            resp = await client.append(raw, mailbox=mailbox)
            assert resp.result == "OK", resp
        await client.logout()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(messages[i::4]) for i in range(4)))
    return time.perf_counter() - t0


CPU: dict[str, list[float]] = {"bare1": [], "bare100": [], "ours": []}


async def bare_fetch(server: DovecotServer, mailbox: str, batch: int) -> tuple[float, int]:
    """Connect, log in, select, search and fetch every body; timed from connect, as ours is."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    client = await connect(server, measured=True)
    await client.select(mailbox)
    uids = search_uids((await client.uid_search("ALL")).lines)
    got = 0
    for i in range(0, len(uids), batch):
        chunk = uids[i : i + batch]
        ids = f"{chunk[0]}:{chunk[-1]}" if batch > 1 else str(chunk[0])
        resp = await client.uid("fetch", ids, "(UID BODY.PEEK[])")
        got += sum(isinstance(line, bytearray) for line in resp.lines)
    elapsed = time.perf_counter() - t0
    CPU["bare1" if batch == 1 else "bare100"].append(time.process_time() - c0)
    await client.logout()
    return elapsed, got


def parse_all(raws: list[bytes]) -> list[ParsedMessage]:
    """Stage two's parse over a batch."""
    return [parse_message(raw, trusted_authserv_id=None, max_bytes=MAX_BYTES) for raw in raws]


class Committer:
    """The product's intake handler (`bot.work.mailbox.recorder`), counting what it committed."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.record = recorder(desk)
        self.count = 0
        self.track = False  # note commit times (the latency part only: it costs a header scan)
        self.committed_at: dict[str, float] = {}
        self.done = asyncio.Event()
        self.target = 0

    async def __call__(self, item: Fetched) -> Outcome:
        [outcome] = await self.batch([item])
        return outcome

    async def batch(self, items: Sequence[Fetched]) -> Sequence[Outcome]:
        outcomes = await self.record(items)
        now = time.perf_counter()
        for item in items if self.track else ():
            self.committed_at[first_look(item.raw).message_id] = now
        self.count += len(items)
        if self.count >= self.target:
            self.done.set()
        return outcomes


async def open_bench_desk(url: str, tmp: str) -> Desk:
    settings = load_settings(
        database_url=url,
        customer_database_url=f"sqlite+aiosqlite:///{tmp}/customers.db",
        secret_key="bench-secret-key-0123456789abcdef0123456789",
        privacy_address="privacy@example.com",
        maildir=f"{tmp}/maildir",
        max_message_bytes=MAX_BYTES,
    )
    return await open_test_desk(settings, load_model(), Path(tmp), CUSTOMERS)


def _timed(fn: Callable[[list[bytes]], object], arg: list[bytes]) -> float:
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0


def _r(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in values) + "]"


async def intake_round(
    server: DovecotServer, committer: Committer, args: argparse.Namespace
) -> float:
    """Seconds for a fresh ImapIntake to record every message of the `bench` mailbox."""
    committer.count, committer.target = 0, args.messages
    committer.done.clear()
    port = TARGET.get("port", server.port)
    intake = ImapIntake(
        ImapConfig(
            server.host, port, "bot", "botpass", tls="none", mailbox="bench", batch_count=args.batch
        )
    )
    state = CaseStoreUidState(committer.desk)  # dsr run's: progress saved in the case store
    c0 = time.process_time()
    t0 = time.perf_counter()
    if args.per_message:
        task = asyncio.create_task(intake.run(committer, state))
    else:
        task = asyncio.create_task(intake.run_batches(committer.batch, state))
    await asyncio.wait_for(committer.done.wait(), 600)
    took = time.perf_counter() - t0
    CPU["ours"].append(time.process_time() - c0)
    await asyncio.wait_for(intake.idling.wait(), 30)  # flags stored: the round is complete
    task.cancel()
    await intake.wait_closed()
    return took


async def reset(server: DovecotServer, admin: aioimaplib.IMAP4, committer: Committer) -> None:
    """Unflag the mailbox and empty the table, for the next round."""
    await admin.select("bench")
    await admin.uid("store", "1:*", "-FLAGS.SILENT", "(\\Seen $Processed)")
    await admin.close()
    async with committer.desk.sessions() as session:
        await session.exec(delete(InboundMessage))
        await session.exec(delete(MailboxState))
        await session.commit()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--latency-messages", type=int, default=40)
    parser.add_argument("--db", default=None, help="case store URL (default: a temp SQLite)")
    parser.add_argument("--per-message", action="store_true", help="one commit per message")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--batch", type=int, default=BATCH, help="messages per fetch and commit (dsr run's value)"
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        help="simulate this network round trip for the measured connections (a delaying proxy)",
    )
    parser.add_argument(
        "--realistic",
        action="store_true",
        help="messages shaped like real mail (relay headers, DKIM, text+HTML, a quote; ~7 KB) "
        "instead of the small tests/data samples",
    )
    args = parser.parse_args()

    server = await asyncio.to_thread(start_dovecot)
    proxy: DelayProxy | None = None
    if args.rtt_ms:
        proxy = DelayProxy((server.host, server.port), args.rtt_ms / 2000)
        await proxy.start()
        TARGET["port"] = proxy.port
        print(f"measured connections go through a proxy adding {args.rtt_ms:g} ms round trip")
    tmp = tempfile.mkdtemp(prefix="dsr-bench-imap-")
    url = args.db or f"sqlite+aiosqlite:///{tmp}/cases.db"
    try:
        admin = await connect(server)
        await admin.create("bench")
        await admin.create("latency")
        messages = corpus(args.messages, "t", real=args.realistic)
        size = sum(map(len, messages))
        took = await append_all(server, "bench", messages)
        print(f"appended {len(messages)} messages ({size / 1e6:.1f} MB) in {took:.1f} s")

        await upgrade_async(url)
        desk = await open_bench_desk(url, tmp)
        committer = Committer(desk)
        results: dict[str, list[float]] = {"bare1": [], "bare100": [], "ours": []}
        for _ in range(args.rounds):  # interleaved rounds: the machine's load varies
            one, got1 = await bare_fetch(server, "bench", 1)
            hundred, got100 = await bare_fetch(server, "bench", 100)
            assert got1 == got100 == len(messages), (got1, got100)
            results["bare1"].append(len(messages) / one)
            results["bare100"].append(len(messages) / hundred)
            results["ours"].append(len(messages) / await intake_round(server, committer, args))
            await reset(server, admin, committer)
        bare1, bare100, rate = (max(results[k]) for k in ("bare1", "bare100", "ours"))
        mode = "one commit per message" if args.per_message else "one commit per batch"
        print(
            f"best of {args.rounds} interleaved rounds (all rounds: msg/s); every loop is timed "
            "from connect to its last message"
        )
        print(
            f"bare aioimaplib, one UID FETCH per message : {bare1:6.0f} msg/s  "
            f"{_r(results['bare1'])}"
        )
        print(
            f"bare aioimaplib, UID FETCH of 100 at a time: {bare100:6.0f} msg/s  "
            f"{_r(results['bare100'])}"
        )
        print(
            f"ImapIntake + record (dsr run's handler)    : {rate:6.0f} msg/s  {_r(results['ours'])}"
            f"  ({mode})"
        )
        print(
            f"ratio to bare per-message loop: {rate / bare1:.2f}; "
            f"to bare batched loop: {rate / bare100:.2f}  (target >= 0.50)"
        )
        n = len(messages)
        cpu = {k: min(v) / n * 1e6 for k, v in CPU.items()}
        print(
            f"client CPU per message (best round): bare per-message {cpu['bare1']:.0f} us, "
            f"bare batched {cpu['bare100']:.0f} us, ours {cpu['ours']:.0f} us"
        )
        parse_best = min(_timed(parse_all, messages) for _ in range(args.rounds))
        print(
            f"stage two's full parse (parse_message), one core: {n / parse_best:6.0f} msg/s "
            f"({parse_best / n * 1e6:.0f} us/message)"
        )

        # latency with IDLE
        committer.target = committer.count + args.latency_messages
        committer.track = True
        committer.done.clear()
        intake = ImapIntake(
            ImapConfig(
                server.host,
                TARGET.get("port", server.port),
                "bot",
                "botpass",
                tls="none",
                mailbox="latency",
            )
        )
        task = asyncio.create_task(intake.run_batches(committer.batch, CaseStoreUidState(desk)))
        await asyncio.wait_for(intake.idling.wait(), 30)
        sent: dict[str, float] = {}
        for i, raw in enumerate(corpus(args.latency_messages, "lat")):
            resp = await admin.append(raw, mailbox="latency")
            assert resp.result == "OK"
            sent[f"<lat-{i}@bench.example>"] = time.perf_counter()
            await asyncio.sleep(0.25)
        await asyncio.wait_for(committer.done.wait(), 60)
        task.cancel()
        await intake.wait_closed()
        lat = sorted(committer.committed_at[k] - t for k, t in sent.items())
        p50 = statistics.median(lat)
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(
            f"arrival-to-commit with IDLE over {len(lat)} messages: p50 {p50 * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms  (target p50 < 1500 ms)"
        )
        await admin.logout()
        await desk.executor.engine.dispose()
        await desk.engine.dispose()
    finally:
        if proxy is not None:
            await proxy.close()
        await asyncio.to_thread(server.destroy)


if __name__ == "__main__":
    asyncio.run(main())
