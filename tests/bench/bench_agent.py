"""End-to-end desk benchmark: N opt-out and concern requests from the mailbox to the sent
confirmation, through a real Dovecot, a `dsr run` process and a recording SMTP server.

    python tests/bench/bench_agent.py [--messages 1000] [--backend sqlite|postgresql] [--rate R]
                                      [--sealing on|off|both]

Reports throughput, p50/p95 latency (append to Dovecot -> confirmation received by SMTP) and the
peak RSS (VmHWM) of the `dsr run` process. `--sealing both` runs the desk twice on fresh stores,
with encryption at rest and with the sealing functions replaced by the identity (a patch in the
benchmark's own process start-up: the product has no switch to turn sealing off), and prints the
ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import aioimaplib
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from storage.customer.importer import import_customers  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.servers.dovecot import start_dovecot  # noqa: E402
from tests.servers.postgres import destroy, free_port, start_postgres  # noqa: E402

BODIES = [
    "Please stop sending me your newsletter, I want to unsubscribe.",
    "I am worried that you share my personal data with advertisers. Why do you do that?",
]


class Arrivals:
    """SMTP handler noting when each confirmation arrived, by the request it answers."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes, policy

        msg = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.at.setdefault(str(msg["In-Reply-To"]), time.monotonic())
        return "250 OK"


def _letters(i: int) -> str:
    out = ""
    while True:
        i, r = divmod(i, 26)
        out = chr(65 + r) + out
        if i == 0:
            return out


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _append(
    host: str,
    port: int,
    mailbox: str,
    n: int,
    rate: float | None,
    sent_at: dict[str, float],
    start: int = 0,
) -> None:
    client = aioimaplib.IMAP4(host, port, timeout=30)
    await client.wait_hello_from_server()
    await client.login("bot", "botpass")
    for i in range(start, start + n):
        msg = EmailMessage()
        msg["From"], msg["To"] = f"customer{i}@example.com", "privacy@example.com"
        msg["Subject"] = "newsletter" if i % 2 == 0 else "question"
        msg["Message-ID"] = make_msgid(domain="bench.example")
        msg.set_content(BODIES[i % 2])
        await client.append(msg.as_bytes(), mailbox=mailbox)
        sent_at[str(msg["Message-ID"])] = time.monotonic()
        if rate:
            await asyncio.sleep(1 / rate)
    await client.logout()


#: `python -m bot run` with sealing replaced by the identity (values stored as they are).
UNSEALED = """
import runpy, sys
from storage import sealing
sealing.Keyring.seal_text = lambda self, text, where: text
sealing.Keyring.seal_bytes = lambda self, data, where: data
sealing.Keyring.lookup_hash = lambda self, value: value
sys.argv = ["bot", "run"]
runpy.run_module("bot", run_name="__main__")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=float, default=None, help="messages/s (default: at once)")
    parser.add_argument("--sealing", choices=["on", "off", "both"], default="on")
    parser.add_argument("--rounds", type=int, default=1, help="with --sealing both: pairs run")
    parser.add_argument(
        "--profile", type=Path, default=None, help="run the desk under cProfile, stats to FILE"
    )
    args = parser.parse_args()
    runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    order = {"on": [True], "off": [False], "both": [False, True]}[args.sealing]
    for i in range(args.rounds if args.sealing == "both" else 1):
        for sealed in order if i % 2 == 0 else order[::-1]:  # interleaved: load drifts
            runs[sealed].append(run(args, sealed=sealed))
    if runs[False] and runs[True]:
        rate = {k: statistics.median(r for r, _ in v) for k, v in runs.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
        print(
            f"sealing adds {100 * (rate[False] / rate[True] - 1):.1f} % to the wall time "
            f"({rate[True]:.1f} vs {rate[False]:.1f} requests/s) and "
            f"{100 * (cpu[True] / cpu[False] - 1):.1f} % to the desk's CPU "
            f"({cpu[True]:.2f} vs {cpu[False]:.2f} ms a request), medians of {args.rounds}"
        )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def seed_customers(url: str, n: int) -> None:
    """N customers in the reference store, customer{i}@example.com each subscribed."""
    engine = create_engine(url)
    await import_customers(
        engine,
        [
            json.dumps(
                {
                    "username": f"c{i}",
                    "email": f"customer{i}@example.com",
                    "name": f"Customer {_letters(i)}",
                    "company": "",
                    "phone": f"+49 30 {1000000 + i}",
                    "street": "Hauptstr. 1",
                    "postal_code": "10115",
                    "city": "Berlin",
                    "country": "DE",
                    "newsletter": True,
                }
            )
            for i in range(n)
        ],
    )
    await engine.dispose()


def desk_env(db: str, customers: str, dovecot: Any, smtp_port: int) -> dict[str, str]:
    """The environment of a `dsr run` reading Dovecot and sending to the recording server."""
    return {
        **os.environ,
        "DSR_DATABASE_URL": db,
        "DSR_CUSTOMER_DATABASE_URL": customers,
        "DSR_IMAP_HOST": dovecot.host,
        "DSR_IMAP_PORT": str(dovecot.port),
        "DSR_IMAP_USER": "bot",
        "DSR_IMAP_PASSWORD": "botpass",
        "DSR_IMAP_TLS": "none",
        "DSR_SMTP_HOST": "127.0.0.1",
        "DSR_SMTP_PORT": str(smtp_port),
        "DSR_SMTP_TLS": "none",
        "DSR_HTTP_PORT": str(free_port()),
        "DSR_SECRET_KEY": os.environ.get("DSR_SECRET_KEY", "b" * 48),
        "DSR_PRIVACY_ADDRESS": "privacy@example.com",
        "DSR_LOG_LEVEL": "WARNING",
    }


def run(args: argparse.Namespace, *, sealed: bool) -> tuple[float, float]:
    """One desk on fresh stores; returns its throughput (requests/s) and the CPU its process
    spent per request after start-up (ms)."""
    tmp = Path(tempfile.mkdtemp(prefix="dsr-bench-agent-"))
    os.chmod(tmp, 0o755)
    dovecot = start_dovecot()
    pg = start_postgres() if args.backend == "postgresql" else None
    arrivals = Arrivals()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        db = pg.create_database("bench") if pg else f"sqlite+aiosqlite:///{tmp / 'dsr.db'}"
        customers = f"sqlite+aiosqlite:///{tmp / 'customers.db'}"
        upgrade(db)

        asyncio.run(seed_customers(customers, args.messages))
        env = desk_env(db, customers, dovecot, smtp.port)
        command = ["-m", "bot", "run"] if sealed else ["-c", UNSEALED]
        if args.profile is not None:  # the desk exits cleanly on SIGTERM, so the stats are written
            command = ["-m", "cProfile", "-o", str(args.profile.resolve()), *command]
        proc = subprocess.Popen(
            [sys.executable, *command],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(6)  # start-up: imports, model load, first IMAP session
        sent_at: dict[str, float] = {}
        cpu0 = _cpu_seconds(proc.pid)
        t0 = time.monotonic()
        asyncio.run(_append(dovecot.host, dovecot.port, "INBOX", args.messages, args.rate, sent_at))
        deadline = time.monotonic() + 600
        while len(arrivals.at) < args.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = max(arrivals.at.values()) - t0
        peak = _vm_hwm_mb(proc.pid)
        cpu_ms = 1000 * (_cpu_seconds(proc.pid) - cpu0) / max(len(arrivals.at), 1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        lat = [arrivals.at[m] - sent_at[m] for m in sent_at if m in arrivals.at]
        q = statistics.quantiles(lat, n=100)
        print(
            f"{len(lat)}/{args.messages} confirmations ({args.backend}, "
            f"{'sealed' if sealed else 'not sealed'}, "
            f"{'at once' if not args.rate else f'{args.rate}/s'}): "
            f"{len(lat) / elapsed:.1f} requests/s; latency p50 {statistics.median(lat):.2f} s, "
            f"p95 {q[94]:.2f} s; dsr run peak RSS {peak:.0f} MB, CPU {cpu_ms:.2f} ms a request"
        )
        return len(lat) / elapsed, cpu_ms
    finally:
        smtp.stop()
        dovecot.destroy()
        if pg:
            destroy(pg)


if __name__ == "__main__":
    main()
