"""A property of the whole intake (parse, robots, threading, code lookup, judging) on a real case
store: no sequence of mails from addresses other than the one on file — whatever they say, with
the right code or not, threaded or tagged or fresh, or from the right address but failing DMARC —
changes the state of a challenge."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.settings import load_settings
from bot.work.desk import Desk
from bot.work.intake import ingest
from bot.work.pipeline import advance_due
from intents.classify import IntentModel
from mail.intake import Fetched
from storage.migrate import upgrade
from storage.models import Case, Outbox, VerificationChallenge
from tests.agent_harness import SECRET, letter, open_test_desk

ALICE = "alice@example.org"
AUTH = "mx.example.com"
OTHERS = [
    "mallory@evil.example",
    "ALICE@example.org",
    "Alice@example.org",
    "alice@example.org.evil.example",
    "alice@exampIe.org",
    "alicé@example.org",
    "alice+x@example.org",
    "bob@example.net",
]
_SERIAL = itertools.count()


async def _setup(model: IntentModel) -> tuple[Desk, str, str, str]:
    """A desk with one case from Alice waiting on its challenge: (desk, ref, code, thread id)."""
    tmp = Path(tempfile.mkdtemp(prefix="dsr-prop-"))
    url = f"sqlite+aiosqlite:///{tmp / 'cases.db'}"
    await asyncio.to_thread(upgrade, url)
    desk = await open_test_desk(
        load_settings(
            database_url=url,
            customer_database_url=f"sqlite+aiosqlite:///{tmp / 'customers.db'}",
            secret_key=SECRET,
            trusted_authserv_id=AUTH,
        ),
        model,
        tmp,
    )
    raw = letter(ALICE, "Copy", "Please send me a copy of my personal data.")
    await ingest(desk, Fetched(raw, source="prop:0"))
    await advance_due(desk)
    async with desk.sessions() as s:
        (case,) = (await s.exec(select(Case))).all()
        row = (await s.exec(select(Outbox).where(Outbox.template == "challenge"))).one()
    return desk, case.reference, str(row.payload["context"]["code"]), str(row.message_id)


async def _state(desk: Desk) -> list[tuple[Any, ...]]:
    async with desk.sessions() as s:
        stmt = select(VerificationChallenge).order_by(col(VerificationChallenge.id))
        rows = (await s.exec(stmt)).all()
        case = (await s.exec(select(Case).order_by(col(Case.id)))).first()
    assert case is not None
    return [
        (c.attempts, c.stray_attempts, c.used_at, c.revoked_at, c.code_hash, case.state)
        for c in rows
    ]


def test_no_mail_from_anyone_else_changes_a_challenge(intent_model: IntentModel) -> None:
    loop = asyncio.new_event_loop()
    try:
        desk, ref, code, thread = loop.run_until_complete(_setup(intent_model))
        bodies = [
            code,
            code.lower().replace("-", " "),
            code.replace("-", ""),
            f"Yes, this was me: {code}",
            "NO",
            "That wasn't me. I did not make this request.",
            "What is this?",
            "yes",
            "ABCD-EFGH",
            f"If that was you, reply with the code {code}",
        ]
        mail = st.tuples(
            st.sampled_from([*OTHERS, f"dmarc-fail:{ALICE}"]),
            st.sampled_from(bodies),
            st.sampled_from([f"[{ref}] code", f"Re: [{ref}] Please confirm", "hello", ref]),
            st.booleans(),  # a reply to the challenge itself (its Message-ID)
            st.sampled_from(["", "Auto-Submitted: auto-replied"]),
        )

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(st.lists(mail, min_size=1, max_size=4))
        def mails_from_others(batch: list[tuple[str, str, str, bool, str]]) -> None:
            before = loop.run_until_complete(_state(desk))
            for sender, body, subject, threaded, extra in batch:
                headers: dict[str, str] = {}
                if sender.startswith("dmarc-fail:"):
                    sender = sender.split(":", 1)[1]
                    headers["Authentication-Results"] = f"{AUTH}; dmarc=fail header.from=x"
                if extra:
                    name, value = extra.split(": ", 1)
                    headers[name] = value
                raw = letter(
                    sender,
                    subject,
                    body,
                    headers=headers,
                    in_reply_to=thread if threaded else None,
                )
                fetched = Fetched(raw, source=f"prop:{next(_SERIAL)}")
                loop.run_until_complete(ingest(desk, fetched))
            assert loop.run_until_complete(_state(desk)) == before

        mails_from_others()
        loop.run_until_complete(desk.executor.engine.dispose())
        loop.run_until_complete(desk.engine.dispose())
    finally:
        loop.close()
