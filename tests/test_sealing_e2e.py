"""After requests ran through the real stack (Dovecot, SMTP, SQLite or PostgreSQL), the case
store — the SQLite files, or a `pg_dump` — holds none of the customers' names, addresses, phone
numbers, codes or message text in any form (#17); and a key rotation in the middle of a run
loses nothing and leaves the audit chain verifying."""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bot.case.data import case_data
from bot.case.lifecycle import CaseState
from bot.work import actions
from intents.classify import IntentModel
from storage import audit, rotation, sealing
from storage.models import Case
from storage.sealing import Keyring
from tests.agent_harness import CUSTOMERS, REQUESTS, SECRET, Harness, harness, letter, plain_text
from tests.leaks import leaks, needles, sqlite_files, store_bytes
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")
NEW_PHONE = "+31 6 11112222"
TEXTS = [
    "Hello, under the GDPR I would like a copy of all personal data you hold about me.",
    f"Please change my phone number to {NEW_PHONE}, my old one is gone.",
    "Please delete my account and all of my data, I moved to Lisbon.",
    "How do I reset my password? I cannot log in since Tuesday.",
]


async def _answer_challenge(h: Harness, address: str) -> str:
    challenge = h.sent_to(address, "challenge")[-1]
    code = CODE.search(plain_text(challenge))
    assert code, plain_text(challenge)
    await h.receive(
        letter(
            address,
            f"Re: {challenge['Subject']}",
            f"Yes, that was me. {code.group(0)}",
            in_reply_to=str(challenge["Message-ID"]),
        )
    )
    return code.group(0)


async def test_the_case_store_holds_no_customer_value_in_clear(
    h: Harness, case_store_url: str, request: pytest.FixtureRequest
) -> None:
    alice, bob = CUSTOMERS
    codes = []
    await h.receive(letter(alice["email"], "My data", TEXTS[0]))
    codes.append(await _answer_challenge(h, alice["email"]))
    await h.receive(letter(bob["email"], "Phone", TEXTS[1]))
    codes.append(await _answer_challenge(h, bob["email"]))
    await h.receive(letter("carol@nowhere.example", "Erase", TEXTS[2]))
    await h.receive(letter("dave@nowhere.example", "Login", TEXTS[3]))
    await h.receive(letter(alice["email"], "Delete", "Please delete my account and my data."))
    codes.append(await _answer_challenge(h, alice["email"]))
    # an open challenge whose code is still waiting in the outbox's sealed payload
    await h.receive(letter(bob["email"], "Copy", "Please send me a copy of my personal data."))
    cases = {c.reference: c for c in await h.cases()}
    for case in cases.values():
        if case.state == CaseState.AWAITING_APPROVAL:  # the copy, the change, the erasure
            await actions.approve(h.desk, case.reference, "cli:dpo")
    other = next(c for c in cases.values() if c.requester_address == "dave@nowhere.example")
    await actions.reclassify(h.desk, other.reference, "cli:dpo", ["concern"])  # a training label
    await h.settle()
    sent_codes = {m for msg in h.sent for m in CODE.findall(plain_text(msg))}
    assert set(codes) <= sent_codes and len(sent_codes) >= 3
    done = [c.intents for c in await h.cases() if c.state == CaseState.DONE]
    assert sorted(done) == [["change"], ["delete"], ["see"]], await h.describe()
    # the desk still reads everything back in clear
    states = {c.requester_address: c.state for c in await h.cases()}
    assert alice["email"] in states and "carol@nowhere.example" in states
    assert any(case_data(c).changes for c in await h.cases())

    values = [
        *(c[k] for c in CUSTOMERS for k in ("name", "email", "phone", "street")),
        "carol@nowhere.example",
        "dave@nowhere.example",
        NEW_PHONE,
        *TEXTS,
        *sent_codes,
        *(c.replace("-", "") for c in sent_codes),
    ]
    await h.desk.engine.dispose()  # SQLite: everything written out of the connections
    server = (
        request.getfixturevalue("postgres_server")
        if make_url(case_store_url).get_backend_name() == "postgresql"
        else None
    )
    blob = store_bytes(case_store_url, server)
    assert len(blob) > 10_000
    assert leaks(blob, needles(values)) == []
    # the search finds what is there: the customer store (not the desk's) holds them in clear
    customers = sqlite_files(h.desk.settings.customer_database_url)
    assert {alice["name"], bob["email"]} <= set(leaks(customers, needles(values)))
    assert (await audit.verify(h.desk.engine)).ok


@pytest.fixture
async def rotating(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
) -> AsyncIterator[Harness]:
    """A desk restarted with a new DSR_DATA_KEY (it seals; the old, derived key still opens)."""
    tmp = Path(tempfile.mkdtemp(prefix="dsr-rotate-"))
    async with harness(
        case_store_url, dovecot, smtp_server, intent_model, tmp, data_key=NEW_KEY
    ) as hh:
        yield hh


NEW_KEY = "n" * 40


def _requesters(cases: list[Case]) -> list[str]:
    """Who asked, once per request: a repeat joined to its open case (#16) counts again."""
    return sorted(c.requester_address or "" for c in cases for _ in range(1 + case_data(c).joined))


async def test_rotation_during_a_run_loses_nothing(rotating: Harness) -> None:
    h = rotating
    new = h.desk.settings.keyring()
    old = Keyring.from_secrets([], SECRET.encode())  # the embedded default's key
    assert new is not None and new.newest != old.newest and old.newest in new.kids
    requests = [*REQUESTS, *REQUESTS][:12]
    # cases and mail written as before DSR_DATA_KEY was set (the intake already seals anew)
    token = sealing.use_keyring(old.with_older(new))
    try:
        for sender, body in requests[:6]:
            await h.receive(letter(sender, "Request", body))
    finally:
        sealing.reset_keyring(token)
    assert sum((await rotation.stale(h.desk.engine, new)).values()) > 20
    # a rotation pass and the desk at work take turns, a few batches at a time
    resealed = 0
    for sender, body in requests[6:]:
        await h.receive(letter(sender, "Request", body))
        partial = await rotation.rotate(h.desk.engine, new, batch=3, max_batches=4)
        assert not partial.finished  # stopped, to resume at the next call
        resealed += partial.total
    report = await rotation.rotate(h.desk.engine, new, batch=3)
    assert report.finished and resealed + report.total > 20
    await h.settle()
    assert await rotation.stale(h.desk.engine, new) == dict.fromkeys(report.resealed, 0)
    expected = sorted(s for s, _ in requests)
    assert _requesters(await h.cases()) == expected
    # once rotated, the new key alone opens everything
    token = sealing.use_keyring(Keyring(new.keys[:1], None))
    try:
        cases = await h.cases()
        assert _requesters(cases) == expected
        assert all(case_data(c).identifiers for c in cases)
    finally:
        sealing.reset_keyring(token)
    assert (await audit.verify(h.desk.engine)).ok
    assert await audit.count_action(h.desk.engine, "keys_rotate_finished") == 1
