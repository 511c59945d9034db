"""Verification proves consent, end to end on Dovecot, aiosmtpd and both databases: the attacks
of issue #14 fail at every step (a refusal, a reply without the code, an auto-reply, the code
from another address, forged `[DSR-n]` bursts with and without DMARC, an e-mail change to an
attacker's address), and the real customer still verifies afterwards.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlmodel import col, select, update

from bot.case import verify
from bot.case.data import case_data
from bot.case.lifecycle import CaseState
from bot.slack.facts import case_notes, verification_text
from bot.work import actions
from intents.classify import IntentModel
from mail.i18n import long_date
from storage import audit
from storage.models import Case, Outbox, VerificationChallenge, utcnow
from tests.agent_harness import Harness, harness, letter, plain_text
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

ALICE = "alice@example.org"
BOB = "bob@example.net"
EVE = "eve@evil.example"
AUTH = "mx.example.com"
DMARC_FAIL = {"Authentication-Results": f"{AUTH}; dmarc=fail header.from=example.org"}


@pytest.fixture
async def h(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
) -> AsyncIterator[Harness]:
    tmp = Path(tempfile.mkdtemp(prefix="dsr-verify-"))
    async with harness(
        case_store_url, dovecot, smtp_server, intent_model, tmp, trusted_authserv_id=AUTH
    ) as hh:
        yield hh


def _code(msg: EmailMessage) -> str:
    found = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", plain_text(msg))
    assert found, "the challenge carries a code"
    return found.group(0)


def _quoted(msg: EmailMessage) -> str:
    """The challenge as a mail client quotes it under a reply."""
    lines = plain_text(msg).splitlines()
    return "On Fri, 4 Dec 2026, privacy@example.com wrote:\n" + "\n".join(f"> {x}" for x in lines)


def _reply(to: EmailMessage, sender: str, body: str, **headers: str) -> bytes:
    return letter(
        sender,
        f"Re: {to['Subject']}",
        body,
        in_reply_to=str(to["Message-ID"]),
        headers=headers or None,
    )


def _customers(h: Harness, sql: str) -> list[tuple[object, ...]]:
    path = h.desk.settings.customer_database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


async def _challenges(h: Harness) -> list[VerificationChallenge]:
    async with h.desk.sessions() as s:
        stmt = select(VerificationChallenge).order_by(col(VerificationChallenge.id))
        return list((await s.exec(stmt)).all())


def _state(challenges: list[VerificationChallenge]) -> list[tuple[object, ...]]:
    return [(c.attempts, c.used_at, c.revoked_at, c.code_hash) for c in challenges]


async def _events(h: Harness, ref: str) -> list[str]:
    return [e.action async for e in audit.events(h.desk.engine, case_ref=ref)]


async def _release_delayed_mail(h: Harness) -> None:
    """Let mail held back until a case's expiry go now (as if the week had passed)."""
    async with h.desk.sessions() as s, s.begin():
        await s.exec(update(Outbox).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    await h.settle()


async def _expire_all(h: Harness) -> None:
    async with h.desk.sessions() as s, s.begin():
        await s.exec(
            update(Case)
            .where(col(Case.state) == CaseState.AWAITING_VERIFICATION)
            .values(next_action_at=utcnow() - timedelta(seconds=1))
        )
    await h.settle()


async def test_the_challenge_says_what_is_at_stake_and_no_closes_the_case(h: Harness) -> None:
    await h.receive(
        letter(
            EVE,
            "Delete my account",
            f"Please delete my account and all my data. My address on file is {ALICE}.",
        )
    )
    (case,) = await h.cases()
    (challenge,) = h.sent_to(ALICE, "challenge")
    text = plain_text(challenge)
    assert "Someone asked us to delete your account" in text
    assert EVE in text and long_date(case.received_at, "en") in text
    assert f"reply with the code {_code(challenge)}" in text
    assert "If it was not you, reply NO or ignore this mail: nothing will happen." in text
    assert _code(challenge) not in str(challenge["Subject"])
    async with h.desk.sessions() as s:  # once sent, the clear code is kept nowhere
        rows = (await s.exec(select(Outbox).where(Outbox.template == "challenge"))).all()
    assert rows and all("code" not in r.payload["context"] for r in rows)
    # Alice refuses; the code is in the quoted challenge under her words, which never counts.
    await h.receive(
        _reply(
            challenge,
            ALICE,
            "I did NOT make this request. Do not delete anything!\n\n" + _quoted(challenge),
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.REJECTED and case_data(case).refused_by_subject
    assert "case_subject_refused" in await _events(h, case.reference)
    assert "Refused by the subject" in verification_text(case)
    assert any("refused" in n for n in case_notes(case, 0, 1))
    assert all(c.revoked_at is not None and not c.code_hash for c in await _challenges(h))
    result = await actions.approve(h.desk, case.reference, "cli:dpo")
    assert "nothing to approve" in result.message
    assert _customers(h, f"select count(*) from customer where email = '{ALICE}'") == [(1,)]
    # Eve has only her acknowledgement; the neutral mail waits for the moment of expiry.
    assert [m["X-DSR-Template"] for m in h.sent_to(EVE)] == ["acknowledgement"]
    await _release_delayed_mail(h)
    (refused,) = h.sent_to(EVE, "expired")
    # A request about nobody we know ends, at expiry, in the very same words.
    await h.receive(letter(EVE, "Delete", "Please delete the account of carol@nowhere.example."))
    await _expire_all(h)
    first, second = h.sent_to(EVE, "expired")
    strip = re.compile(r"DSR-\d+")
    assert strip.sub("", plain_text(first)) == strip.sub("", plain_text(second))
    assert strip.sub("", str(first["Subject"])) == strip.sub("", str(second["Subject"]))
    assert refused["Message-ID"] == first["Message-ID"]


async def test_ignoring_the_challenge_changes_nothing(h: Harness) -> None:
    await h.receive(letter(EVE, "Delete", f"Please delete the account of {ALICE}."))
    await _expire_all(h)
    (case,) = await h.cases()
    assert case.state == CaseState.EXPIRED
    assert _customers(h, f"select count(*) from customer where email = '{ALICE}'") == [(1,)]
    assert len(h.sent_to(ALICE)) == 1  # the challenge, nothing else


@pytest.mark.parametrize(
    "body",
    [
        "What? I never asked for anything",
        "NO",
        "Nee, dat was ik niet.",
        "Das war ich nicht!",
        "Ce n'est pas moi.",
        "No fui yo.",
        "What is this about?",
    ],
    ids=["question-denial", "no", "nl", "de", "fr", "es", "question"],
)
async def test_a_refusal_or_question_never_verifies(h: Harness, body: str) -> None:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (challenge,) = h.sent_to(ALICE, "challenge")
    await h.receive(_reply(challenge, ALICE, body))
    (case,) = await h.cases()
    assert case.state == CaseState.REJECTED and case.verified_by is None
    assert h.sent_to(ALICE, "access_package") == []


async def test_a_reply_without_the_code_does_not_verify_and_the_customer_still_can(
    h: Harness,
) -> None:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (challenge,) = h.sent_to(ALICE, "challenge")
    await h.receive(_reply(challenge, ALICE, "Yes, this was me.\n\n" + _quoted(challenge)))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    ((attempts, *_),) = _state(await _challenges(h))
    assert attempts == 1
    assert len(h.sent_to(ALICE, "verification_failed")) == 1
    code = _code(challenge)
    spaced = f"{code[:4].lower()} {code[5:].lower()}"
    await h.receive(_reply(challenge, ALICE, f"Sorry, here it is: {spaced}"))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL and case.verified_by == "code"
    assert verification_text(case).startswith("Verified: the code was typed in a reply")


async def test_automatic_replies_never_count(h: Harness) -> None:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (challenge,) = h.sent_to(ALICE, "challenge")
    before = _state(await _challenges(h))
    # RFC 3834 headers, and the code in its own lines: a robot, never a person.
    await h.receive(
        _reply(
            challenge, ALICE, f"I am away. {_code(challenge)}", **{"Auto-Submitted": "auto-replied"}
        )
    )
    # No headers at all, the challenge copied without quote marks.
    await h.receive(
        _reply(challenge, ALICE, "Thank you for your mail.\n\n" + plain_text(challenge))
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert _state(await _challenges(h)) == before
    assert h.sent_to(ALICE, "verification_failed") == []
    await h.receive(_reply(challenge, ALICE, f"code {_code(challenge)}"))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL


async def test_the_code_from_another_address_touches_nothing(h: Harness) -> None:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (case,) = await h.cases()
    (challenge,) = h.sent_to(ALICE, "challenge")
    before = _state(await _challenges(h))
    code = _code(challenge)
    for sender in (EVE, ALICE.upper(), "Alice@example.org", "alice@example.org.evil.example"):
        await h.receive(_reply(challenge, sender, f"[{case.reference}] yes {code}"))
        await h.receive(letter(sender, f"[{case.reference}] no", "NO, that wasn't me"))
    (case, *_) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert _state(await _challenges(h)) == before
    assert (await _events(h, case.reference)).count("verification_refused") == 8
    assert h.sent_to(ALICE, "verification_failed") == [] and h.sent_to(EVE) == []
    assert case_data(case).ignored_replies == 8
    assert any("could not count" in n for n in case_notes(case, 0, 1))
    await h.receive(_reply(challenge, ALICE, f"Yes, it was me: code {code}"))
    (case, *_) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL


async def test_forged_tag_bursts_burn_no_attempts_with_or_without_dmarc(h: Harness) -> None:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (case,) = await h.cases()
    (challenge,) = h.sent_to(ALICE, "challenge")
    before = _state(await _challenges(h))
    tag = f"[{case.reference}]"
    guesses = ("AAAA-BBBB", "CCCC-DDDD", "EEEE-FFFF", "GGGG-HHHH", "JJJJ-KKKK", "MMMM-NNNN")
    # Without DMARC a forged From: is indistinguishable, but it knows neither the challenge's
    # Message-ID nor the code: it cannot refuse and spends no attempt of Alice's.
    for guess in guesses:
        await h.receive(letter(ALICE, f"{tag} code", f"My code is {guess}"))
    await h.receive(letter(ALICE, f"{tag} answer", "NO. I did not make this request."))
    # With DMARC, a failing mail never counts, even with the challenge's Message-ID and code.
    for guess in (*guesses, _code(challenge)):
        await h.receive(_reply(challenge, ALICE, f"{tag} {guess}", **DMARC_FAIL))
    await h.receive(_reply(challenge, EVE, f"{tag} {guesses[0]}", **DMARC_FAIL))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    after = await _challenges(h)
    assert _state(after) == before and after[0].stray_attempts == len(guesses)
    assert h.sent_to(ALICE, "verification_failed") == []
    assert len(h.sent_to(ALICE)) == 2  # acknowledgement and challenge: no mail per forgery
    await h.receive(
        _reply(challenge, ALICE, f"587E-U7WA was a typo, this is it: {_code(challenge)}")
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL


async def test_a_fresh_mail_with_the_code_verifies_its_case(h: Harness) -> None:
    await h.receive(letter(ALICE, "Copy", "Please send me a copy of my personal data."))
    (case,) = await h.cases()
    (challenge,) = h.sent_to(ALICE, "challenge")
    code = _code(challenge).replace("-", "")
    await h.receive(letter(ALICE, f"Confirmation {case.reference}", f"Hello, code {code}"))
    cases = await h.cases()
    assert [c.state for c in cases] == [CaseState.AWAITING_APPROVAL]
    # The same code from anyone else opens no door: it is a new request of theirs.
    await h.receive(letter(EVE, f"Confirmation {case.reference}", f"code {code}"))
    assert (await h.cases())[0].state == CaseState.AWAITING_APPROVAL


async def test_an_email_change_to_an_attackers_address_needs_the_holder(h: Harness) -> None:
    # Without DMARC on the receiver a forged From: reaches the desk as if from Bob.
    await h.receive(letter(BOB, "New address", f"Please change my e-mail address to {EVE}"))
    (case,) = await h.cases()
    (consent,) = h.sent_to(BOB, "challenge")
    (ownership,) = h.sent_to(EVE, "challenge_new_address")
    assert f"change the e-mail address of your account from {BOB} to {EVE}" in plain_text(consent)
    assert BOB not in plain_text(ownership) and "Bob" not in plain_text(ownership)
    await h.receive(_reply(ownership, EVE, f"yes {_code(ownership)}"))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert case_data(case).confirmations == ("ownership",)
    assert "address on file (waiting)" in verification_text(case)
    assert "new address (confirmed)" in verification_text(case)
    # Eve cannot answer for Bob, even with Bob's code.
    await h.receive(_reply(consent, EVE, f"yes {_code(consent)}"))
    assert (await h.cases())[0].state == CaseState.AWAITING_VERIFICATION
    await h.receive(_reply(consent, BOB, "What? I never asked for anything"))
    (case,) = await h.cases()
    assert case.state == CaseState.REJECTED
    assert _customers(h, "select email from customer where username = 'bob'") == [(BOB,)]


async def test_an_email_change_confirmed_by_both_addresses_is_applied(h: Harness) -> None:
    new = "bob.builder@example.com"
    await h.receive(letter(BOB, "New address", f"Please change my e-mail address to {new}"))
    (consent,) = h.sent_to(BOB, "challenge")
    (ownership,) = h.sent_to(new, "challenge_new_address")
    await h.receive(_reply(consent, BOB, f"Yes {_code(consent)}"))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION  # one of two
    await h.receive(_reply(ownership, new, f"Confirmed: {_code(ownership)}"))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    assert case.verified_by == "code_old_and_new_address"
    assert "confirmed by both addresses" in verification_text(case)
    await actions.approve(h.desk, case.reference, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case_data(case).failure
    assert _customers(h, "select email from customer where username = 'bob'") == [(new,)]


async def test_the_new_address_is_challenged_whether_or_not_an_account_exists(
    h: Harness,
) -> None:
    eve2 = "eve.two@evil.example"
    for who, new in ((BOB, EVE), ("carol@nowhere.example", eve2)):
        body = f"My account is {who}. Please change my e-mail address to {new}"
        await h.receive(letter(EVE, "New address", body))
    assert len(h.sent_to(EVE, "acknowledgement")) == 2
    ((first,), (second,)) = h.sent_to(EVE, "challenge_new_address"), h.sent_to(eve2)
    # the same words but for the reference, the code, the day asked and the expiry (the two
    # letters may arrive either side of a minute or of midnight)
    mask = re.compile(r"DSR-\d+|[A-Z2-9]{4}-[A-Z2-9]{4}|asked us on .+? to |valid until [^\r\n]*")
    assert mask.sub("", plain_text(first)) == mask.sub("", plain_text(second))
    # Eve's own code for the new address verifies nothing.
    await h.receive(_reply(first, EVE, f"yes {_code(first)}"))
    assert {c.state for c in await h.cases()} == {CaseState.AWAITING_VERIFICATION}


async def test_challenges_to_one_address_are_limited_whoever_asks(h: Harness) -> None:
    # One open challenge per address and intent. (Three senders: the same request again from
    # one sender joins its open case instead, see tests/test_rights_e2e.py.)
    for sender in (EVE, "eve2@evil.example", "eve3@evil.example"):
        await h.receive(letter(sender, "Delete", f"Please delete the account of {ALICE}."))
    assert len(h.sent_to(ALICE, "challenge")) == 1
    cases = await h.cases()
    assert [case_data(c).withheld for c in cases] == [(), ("open_challenge",), ("open_challenge",)]
    assert "challenge_withheld" in await _events(h, cases[1].reference)
    assert any("Challenge burst" in n for n in case_notes(cases[1], 0, 1))
    # Three a day, whatever the intents.
    await h.receive(letter(EVE, "Copy", f"Please send me a copy of all data about {ALICE}."))
    await h.receive(
        letter(EVE, "Phone", f"Please correct the phone number of {ALICE} to +49 30 7654321.")
    )
    assert len(h.sent_to(ALICE, "challenge")) == 3
    await actions.reject(h.desk, cases[0].reference, "cli:dpo", "not the account holder")
    await h.receive(letter(EVE, "Delete", f"Please delete the account of {ALICE}."))
    assert len(h.sent_to(ALICE, "challenge")) == 3
    assert case_data((await h.cases())[-1]).withheld == ("daily_limit",)


def test_verdicts_that_count_are_only_from_the_challenged_address() -> None:
    assert verify.COUNTED.isdisjoint(verify.IGNORED)
    assert verify.Verdict.WRONG_SENDER in verify.IGNORED
