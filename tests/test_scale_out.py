"""Two `dsr run` processes on one PostgreSQL and one Dovecot mailbox share the work: one reads
the mailbox (advisory lock), both advance cases and send mail, and each case is handled once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aioimaplib
from aiosmtpd.controller import Controller

from storage.customer.importer import import_customers
from storage.db import create_engine
from storage.migrate import upgrade
from storage.sealing import lookup_hash
from tests.agent_harness import CUSTOMERS, REQUESTS, Recorder
from tests.servers.dovecot import DovecotServer, logout
from tests.servers.postgres import PostgresServer, free_port

N_MESSAGES = 48


async def _fill_mailbox(dovecot: DovecotServer, mailbox: str) -> list[str]:
    client = aioimaplib.IMAP4(dovecot.host, dovecot.port, timeout=10)
    await client.wait_hello_from_server()
    await client.login("bot", "botpass")
    await client.create(mailbox)
    ids = []
    for i in range(N_MESSAGES):
        sender, body = REQUESTS[i % len(REQUESTS)]
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "privacy@example.com", f"Request {i}"
        msg["Message-ID"] = make_msgid(domain="customer.example")
        msg.set_content(body)
        await client.append(msg.as_bytes(), mailbox=mailbox)
        ids.append(str(msg["Message-ID"]))
    await logout(client)
    return ids


def test_two_processes_share_the_work_and_handle_each_case_once(
    postgres_server: PostgresServer, dovecot: DovecotServer, tmp_path: Path
) -> None:
    url = postgres_server.create_database("scale")
    dbname = url.rsplit("/", 1)[1]
    upgrade(url)
    customers = postgres_server.create_database("cust")

    async def seed() -> list[str]:
        engine = create_engine(customers)
        await import_customers(engine, [json.dumps(c) for c in CUSTOMERS])
        await engine.dispose()
        return await _fill_mailbox(dovecot, mailbox)

    mailbox = f"scale{uuid.uuid4().hex[:8]}"
    message_ids = asyncio.run(seed())
    recorder = Recorder()
    smtp = Controller(recorder, hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {
        **os.environ,
        "DSR_DATABASE_URL": url,
        "DSR_CUSTOMER_DATABASE_URL": customers,
        "DSR_IMAP_HOST": dovecot.host,
        "DSR_IMAP_PORT": str(dovecot.port),
        "DSR_IMAP_USER": "bot",
        "DSR_IMAP_PASSWORD": "botpass",
        "DSR_IMAP_TLS": "none",
        "DSR_IMAP_MAILBOX": mailbox,
        "DSR_SMTP_HOST": "127.0.0.1",
        "DSR_SMTP_PORT": str(smtp.port),
        "DSR_SMTP_TLS": "none",
        "DSR_PRIVACY_ADDRESS": "privacy@example.com",
    }
    logs = [tmp_path / f"desk-{i}.log" for i in range(2)]
    stack = contextlib.ExitStack()  # each desk's stderr, shown if it does not stop cleanly
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stack.enter_context(log.open("wb")),
            env={**env, "DSR_HTTP_PORT": str(free_port())},
        )
        for log in logs
    ]

    def q(sql: str) -> str:
        return postgres_server.psql(sql, dbname).strip()

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            inbound = int(q("select count(*) from inbound_message") or 0)
            pending = int(q("select count(*) from inbound_message where kind = 'pending'") or 0)
            unsent = int(q("select count(*) from outbox where status <> 'sent'") or 0)
            fresh = int(q("select count(*) from dsr_case where state = 'received'") or 0)
            if inbound == N_MESSAGES and pending == 0 and unsent == 0 and fresh == 0:
                break
            time.sleep(0.5)
        time.sleep(1)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=30) for proc in procs]
        stack.close()
        smtp.stop()
    assert (inbound, pending, unsent, fresh) == (N_MESSAGES, 0, 0, 0), "\n".join(
        [
            q("select id, kind, template, status, last_error from outbox where status <> 'sent'"),
            q(
                "select id, state, claimed_by, next_action_at, updated_at, version from dsr_case "
                "where state = 'received'"
            ),
            *(log.read_text(errors="replace")[-4000:] for log in logs),
        ]
    )
    assert codes == [0, 0], "\n".join(log.read_text(errors="replace")[-3000:] for log in logs)
    # the store keeps only the keyed hash of each Message-ID
    stored = sorted(q("select message_id from inbound_message").split("\n"))
    assert stored == sorted(lookup_hash(m) for m in message_ids)
    # every message became one case, or joined the open case of the same request (#16), and
    # each case counts its joined records exactly once
    assert q("select count(*) from inbound_message where case_id is not null") == str(N_MESSAGES)
    # (the case data is sealed: the joins are counted from the audit log's `request_joined`)
    per_case = q(
        "select count(*) - 1 - (select count(*) from audit_event a where a.action = 'case_note' "
        "and a.case_ref = 'DSR-' || i.case_id and a.details::text like '%request_joined%') "
        "from inbound_message i group by i.case_id"
    )
    assert set(per_case.split("\n")) == {"0"}, per_case
    delivered = Counter(str(m["Message-ID"]) for m in recorder.messages)
    assert all(n == 1 for n in delivered.values()), "a mail was sent twice"
    assert set(delivered) == set(q("select message_id from outbox").split("\n"))
    # both processes did part of the work
    senders = q("select count(distinct claimed_by) from outbox")
    assert int(senders) == 2, senders
