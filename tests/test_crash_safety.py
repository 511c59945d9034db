"""`dsr run` killed with SIGKILL at random points, over and over: every message yields exactly
one case, and no customer gets the same mail twice (except one in flight at a kill, and then
with the same Message-ID).
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from bot.settings import load_settings
from storage import audit
from storage.customer.importer import import_customers
from storage.db import create_engine
from storage.migrate import upgrade
from storage.sealing import lookup_hash
from tests.agent_harness import CUSTOMERS, REQUESTS, Recorder
from tests.servers.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent


def _write_requests(maildir: Path) -> list[str]:
    box = mailbox.Maildir(maildir, create=True)
    ids = []
    for i, (sender, body) in enumerate(REQUESTS * 2):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "privacy@example.com", f"Request {i}"
        msg["Message-ID"] = make_msgid(domain="customer.example")
        msg.set_content(body)
        box.add(msg.as_bytes())
        ids.append(str(msg["Message-ID"]))
    return ids


def _query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db, timeout=30) as conn:
        return list(conn.execute(sql))


def _settled(db: Path, expected: int) -> bool:
    try:
        inbound = _query(db, "select count(*) from inbound_message")[0][0]
        pending = _query(db, "select count(*) from inbound_message where kind = 'pending'")[0][0]
        unsent = _query(db, "select count(*) from outbox where status != 'sent'")[0][0]
        fresh = _query(db, "select count(*) from dsr_case where state = 'received'")[0][0]
    except sqlite3.OperationalError:
        return False
    return bool(inbound == expected and pending == 0 and unsent == 0 and fresh == 0)


def _wait_until_serving(port: int, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"dsr run did not serve /healthz on port {port} within {limit} s")


def test_sigkill_at_random_points_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    db, customers = tmp_path / "dsr.db", tmp_path / "customers.db"
    upgrade(f"sqlite+aiosqlite:///{db}")

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{customers}")
        await import_customers(engine, [json.dumps(c) for c in CUSTOMERS])
        await engine.dispose()

    asyncio.run(seed())
    message_ids = _write_requests(tmp_path / "maildir")
    recorder = Recorder()
    smtp = Controller(recorder, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        **os.environ,
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{customers}",
        "DSR_MAILDIR": str(tmp_path / "maildir"),
        "DSR_SMTP_HOST": "127.0.0.1",
        "DSR_SMTP_PORT": str(smtp.port),
        "DSR_SMTP_TLS": "none",
        "DSR_SMTP_RECEIVER_PORT": "0",
        "DSR_WORK_LEASE_SECONDS": "1",
        "DSR_PRIVACY_ADDRESS": "privacy@example.com",
    }
    rng = random.Random(20261129)
    kills = 0
    try:
        for _ in range(10):
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**env, "DSR_HTTP_PORT": str(free_port())},
            )
            time.sleep(rng.uniform(1.5, 5.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        log = (tmp_path / "last-run.log").open("wb")
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            stdout=log,
            stderr=log,
            env={**env, "DSR_HTTP_PORT": str(port)},
        )
        _wait_until_serving(port)  # its SIGTERM handler is installed before it serves
        deadline = time.monotonic() + 120
        while not _settled(db, len(message_ids)) and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.5)  # let a last send finish
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.close()
        assert code == 0, (tmp_path / "last-run.log").read_text()
    finally:
        smtp.stop()
    assert kills >= 5
    assert _settled(db, len(message_ids))
    # exactly one record per message, one case per request: the same request again while its
    # case is open joins it (#16), and the case counts every joined record exactly once
    stored = [r[0] for r in _query(db, "select message_id from inbound_message")]
    assert sorted(stored) == sorted(lookup_hash(m) for m in message_ids)  # keyed hashes only
    # (the case data is sealed: the joins are counted from the audit log's `request_joined`)
    per_case = _query(db, "select case_id, count(*) from inbound_message group by case_id")
    joins = dict(
        _query(
            db,
            "select case_ref, count(*) from audit_event where action = 'case_note' "
            "and details like '%request_joined%' group by case_ref",
        )
    )
    assert sum(n for _, n in per_case) == len(message_ids)
    assert all(n == 1 + joins.get(f"DSR-{case_id}", 0) for case_id, n in per_case), per_case
    # every sent outbox row was delivered; no row was delivered under two Message-IDs
    rows = {r[0] for r in _query(db, "select message_id from outbox where kind = 'mail'")}
    delivered = Counter(str(m["Message-ID"]) for m in recorder.messages)
    assert set(delivered) == rows
    # a duplicate is only ever the same Message-ID again (a send in flight at a kill)
    per_content = Counter((str(m["To"]), str(m["Subject"])) for m in recorder.messages)
    for (to, subject), n in per_content.items():
        same = {
            str(m["Message-ID"])
            for m in recorder.messages
            if (str(m["To"]), str(m["Subject"])) == (to, subject)
        }
        assert len(same) == 1 or n == len(same), (to, subject)
    assert sum(delivered.values()) - len(delivered) <= kills

    async def verify() -> bool:
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        try:
            # `dsr run` keyed the chain with the key derived from DSR_SECRET_KEY
            key = load_settings(database_url=f"sqlite+aiosqlite:///{db}").audit_key_bytes()
            return (await audit.verify(engine, key=key)).ok
        finally:
            await engine.dispose()

    assert asyncio.run(verify())
