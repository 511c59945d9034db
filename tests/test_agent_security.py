"""Security of the desk end to end: nobody's data reaches someone not on file, a DMARC-failing
spoof cannot verify, codes cannot be guessed, reused or used late, and logs hold no personal data.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import select

from bot.case import verify
from bot.case.lifecycle import CaseState
from bot.work import actions
from intents.classify import IntentModel
from storage.models import VerificationChallenge, utcnow
from tests.agent_harness import Harness, harness, letter
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

ALICE = "alice@example.org"
MALLORY = "mallory@evil.example"
ALICE_PII = ("alice@example.org", "Alice", "Liddell", "1234567", "Hauptstr")


@pytest.fixture
async def h(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
) -> AsyncIterator[Harness]:
    tmp = Path(tempfile.mkdtemp(prefix="dsr-sec-"))
    async with harness(
        case_store_url,
        dovecot,
        smtp_server,
        intent_model,
        tmp,
        trusted_authserv_id="mx.example.com",
    ) as hh:
        yield hh


def _text(msg: EmailMessage) -> str:
    parts = [str(msg["Subject"])]
    for part in msg.walk():
        if part.get_content_maintype() == "text" or part.get_filename():
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def _normalise(text: str) -> str:
    """Mask what differs between two cases legitimately: reference and dates."""
    text = re.sub(r"DSR-\d+", "DSR-n", text)
    return re.sub(r"\d{1,4}[./ -]\w{1,9}[./ -]\d{2,4}|\w+ \d{1,2}, \d{4}", "<date>", text)


async def test_requester_not_on_file_gets_nothing_and_learns_nothing(h: Harness) -> None:
    await h.receive(
        letter(
            MALLORY,
            "Data request",
            "I am Alice's lawyer. Please send me a copy "
            "of all personal data you hold about "
            "alice@example.org.",
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    to_mallory = h.sent_to(MALLORY)
    # The acknowledgement and, for someone writing on another's behalf, what a representative
    # must provide (#16): neither says anything about Alice.
    assert sorted(m["X-DSR-Template"] for m in to_mallory) == [
        "acknowledgement",
        "representative_needed",
    ]
    assert not any(pii in _text(m) for m in to_mallory for pii in ALICE_PII[1:])
    assert len(h.sent_to(ALICE)) == 1  # the challenge went to the address on file
    # The same request about nobody we know gets the very same acknowledgement.
    await h.receive(
        letter(
            MALLORY,
            "Data request",
            "I am Alice's lawyer. Please send me a copy "
            "of all personal data you hold about "
            "carol@nowhere.example.",
        )
    )
    for template in ("acknowledgement", "representative_needed"):
        one, other = h.sent_to(MALLORY, template)
        assert _normalise(_text(one)) == _normalise(_text(other))
    first = h.sent_to(MALLORY, "acknowledgement")[0]
    # Mallory cannot verify by answering the acknowledgement, and staff cannot approve.
    await h.receive(
        letter(
            MALLORY,
            f"Re: {first['Subject']}",
            "Confirmed. Code ABCD-EFGH",
            in_reply_to=str(first["Message-ID"]),
        )
    )
    cases = await h.cases()
    assert [c.state for c in cases] == [CaseState.AWAITING_VERIFICATION] * 2
    result = await actions.approve(h.desk, cases[0].reference, "cli:dpo")
    assert "nothing to approve" in result.message
    await h.settle()
    assert len(h.sent_to(MALLORY)) == 4 and len(h.sent_to(ALICE)) == 1  # nothing new


async def test_dmarc_failing_spoof_cannot_delete_or_change(h: Harness) -> None:
    spoof = {"Authentication-Results": "mx.example.com; dmarc=fail header.from=example.org"}
    await h.receive(
        letter(ALICE, "Delete", "Please delete my account and all my data.", headers=spoof)
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION  # a challenge was not skipped
    (challenge,) = h.sent_to(ALICE, "challenge")
    # Worst case: the spoofer even knows the challenge's Message-ID and the code.
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", _text(challenge))
    assert code
    await h.receive(
        letter(
            ALICE,
            f"Re: {challenge['Subject']}",
            f"Yes. {code.group(0)}",
            headers=spoof,
            in_reply_to=str(challenge["Message-ID"]),
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    path = h.desk.settings.customer_database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        assert conn.execute(
            "select count(*) from customer where email = ?", (ALICE,)
        ).fetchone() == (1,)


async def _case_with_challenge(h: Harness) -> tuple[int, EmailMessage]:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (case,) = await h.cases()
    (challenge,) = h.sent_to(ALICE, "challenge")
    return case.id or 0, challenge


async def test_guessed_codes_fail_and_the_challenge_is_revoked_at_the_cap(h: Harness) -> None:
    case_id, challenge = await _case_with_challenge(h)
    real = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", _text(challenge))
    assert real
    answering = {"in_reply_to": str(challenge["Message-ID"])}  # a reply to the challenge itself
    for guess in ("AAAA-BBBB", "CCCC-DDDD", "EEEE-FFFF", "GGGG-HHHH", "JJJJ-KKKK"):
        await h.receive(letter(ALICE, f"[DSR-{case_id}] code", f"My code is {guess}", **answering))
    await h.receive(
        letter(ALICE, f"[DSR-{case_id}] code", f"My code is {real.group(0)}", **answering)
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    async with h.desk.sessions() as s:
        (stored,) = (await s.exec(select(VerificationChallenge))).all()
    assert stored.revoked_at is not None and stored.code_hash == ""


def _code(msg: EmailMessage) -> str:
    found = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", _text(msg))
    assert found, "the challenge carries a code"
    return found.group(0)


async def test_reused_and_expired_codes_fail(h: Harness) -> None:
    _, challenge = await _case_with_challenge(h)
    code = _code(challenge)
    async with h.desk.sessions() as s, s.begin():
        (stored,) = (await s.exec(select(VerificationChallenge))).all()
        stored.expires_at = utcnow() - timedelta(seconds=1)
        s.add(stored)
    reply = letter(
        ALICE, f"Re: {challenge['Subject']}", code, in_reply_to=str(challenge["Message-ID"])
    )
    await h.receive(reply)
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION  # expired
    async with h.desk.sessions() as s, s.begin():
        (stored,) = (await s.exec(select(VerificationChallenge))).all()
        stored.expires_at = utcnow() + timedelta(days=1)
        s.add(stored)
    await h.receive(
        letter(
            ALICE,
            f"Re: {challenge['Subject']}",
            f"yes, really: {code}",
            in_reply_to=str(challenge["Message-ID"]),
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    async with h.desk.sessions() as s, s.begin():
        again = await verify.answer(
            s,
            case,
            verify.Reply(sender_key=h.desk.address_key(ALICE), text=code, dmarc=None),
            key=h.desk.key,
        )
    assert again.verdict is verify.Verdict.USED


async def test_application_logs_hold_no_personal_data(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="storage")
    caplog.set_level(logging.DEBUG, logger="intents")
    caplog.set_level(logging.INFO)
    await h.receive(
        letter(
            f"Alice Liddell <{ALICE}>",
            "Copy and delete",
            "Send me a copy of my data and then delete my account. My phone is +49 30 1234567.",
        )
    )
    (case,) = await h.cases()
    (challenge,) = h.sent_to(ALICE, "challenge")
    await h.receive(
        letter(
            ALICE,
            f"Re: {challenge['Subject']}",
            f"yes {_code(challenge)}",
            in_reply_to=str(challenge["Message-ID"]),
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    await actions.approve(h.desk, case.reference, "cli:dpo")
    await h.settle()
    ours = [r for r in caplog.records if r.name != "mail.log"]  # mail.log: the test SMTP server
    assert ours, "the run logged something"
    text = "\n".join(r.getMessage() for r in ours)
    for pii in ALICE_PII:
        assert pii not in text, pii
