"""Through the whole desk (real Dovecot, SMTP server, case store on SQLite and PostgreSQL, the
reference customer store): an objection to direct marketing, a restriction and its lifting, a
lawyer's letter, and the same request three times (#16).
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest

from bot.case.data import case_data
from bot.case.lifecycle import CaseState
from bot.errors import DsrError
from bot.work import actions
from bot.work.pipeline import advance
from storage import audit
from storage.customer.errors import ImportFileError
from storage.customer.importer import import_customers
from storage.customer.rights import address_hash
from tests.agent_harness import Harness, letter, plain_text

ALICE = "alice@example.org"
LAWYER = "counsel@lawfirm.example.com"
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")


def _rows(h: Harness, sql: str) -> list[tuple[object, ...]]:
    path = h.desk.settings.customer_database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


async def _answer_challenge(h: Harness, address: str) -> None:
    """The subject types the code of the challenge sent to their address on file."""
    challenge = h.sent_to(address, "challenge")[-1]
    code = CODE.search(plain_text(challenge))
    assert code
    await h.receive(
        letter(
            address,
            f"Re: {challenge['Subject']}",
            f"Yes, I want this. {code.group(0)}",
            in_reply_to=str(challenge["Message-ID"]),
        )
    )


async def _actions(h: Harness, ref: str) -> list[tuple[str, dict[str, object]]]:
    return [
        (e.action, json.loads(e.details) if isinstance(e.details, str) else dict(e.details))
        async for e in audit.events(h.desk.engine, case_ref=ref)
    ]


async def test_objection_to_marketing_opts_out_at_once_and_survives_a_reimport(
    h: Harness,
) -> None:
    await h.receive(
        letter(
            ALICE,
            "Direct marketing",
            "I object to the use of my personal data for direct marketing. "
            "Please do not send me any advertising again.",
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, (case.state, case.intents)
    assert case_data(case).rights == ("object_marketing",)
    assert "unsubscribe" in case.intents
    # carried out for the sending address, with no challenge (nothing is disclosed)
    assert [m["X-DSR-Template"] for m in h.sent_to(ALICE)] == ["objection_done"]
    assert "suppression list" in plain_text(h.sent_to(ALICE)[0])
    assert _rows(h, f"select count(*) from newsletter_subscription where email = '{ALICE}'") == [
        (0,)
    ]
    assert _rows(h, f"select marketing_consent from customer where email = '{ALICE}'") == [(0,)]
    # the list holds a keyed hash, never the address
    key = h.desk.settings.suppression_key_bytes()
    assert _rows(h, "select address_hash, case_ref from suppression") == [
        (address_hash(key, ALICE), case.reference)
    ]
    assert ALICE not in json.dumps(_rows(h, "select * from suppression"), default=str)
    details = dict(await _actions(h, case.reference))
    assert details["case_carry_out"]["suppressed"] is True

    # The customer database is rebuilt and the old export imported again: the objection holds.
    _rows(h, f"delete from customer where email = '{ALICE}'")
    engine = h.desk.executor.engine
    again = {
        "username": "alice",
        "email": "Alice@Example.org",
        "name": "Alice Liddell",
        "company": "",
        "phone": "+49 30 1234567",
        "street": "Hauptstr. 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
        "newsletter": True,
    }
    other = {**again, "username": "zoe", "email": "zoe@example.org", "name": "Zoe"}
    with pytest.raises(ImportFileError, match="DSR_SECRET_KEY"):
        await import_customers(engine, [json.dumps(again)])  # no key: refused, not skipped
    await import_customers(engine, [json.dumps(again), json.dumps(other)], suppression_key=key)
    assert _rows(
        h,
        "select lower(email), marketing_consent from customer where username in "
        "('alice', 'zoe') order by username",
    ) == [(ALICE, 0), ("zoe@example.org", 1)]
    assert _rows(
        h,
        "select lower(email) from newsletter_subscription where lower(email) in "
        f"('{ALICE}', 'zoe@example.org')",
    ) == [("zoe@example.org",)]


async def test_restriction_is_marked_shown_and_lifted_only_after_the_customer_is_told(
    h: Harness,
) -> None:
    await h.receive(
        letter(
            ALICE,
            "Restriction",
            "Please do not delete my data yet, but restrict the processing of my personal data "
            "(Art. 18 GDPR) until you have checked whether my address is correct.",
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert case_data(case).rights == ("restrict",)
    assert "delete" not in case.intents  # "don't delete yet" never erases
    (challenge,) = h.sent_to(ALICE, "challenge")
    assert "restrict the processing" in plain_text(challenge)
    await _answer_challenge(h, ALICE)
    await actions.approve(h.desk, case.reference, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case_data(case).failure
    # nothing erased; every row of hers is marked per purpose of its table
    assert _rows(h, f"select count(*) from customer where email = '{ALICE}'") == [(1,)]
    marks = _rows(
        h, "select table_name, purpose, case_ref from restriction where lifted_at is null"
    )
    assert ("customer", "Billing", case.reference) in marks
    assert (
        "newsletter_subscription",
        "Sending you the newsletter you subscribed to",
        case.reference,
    ) in marks
    (done,) = h.sent_to(ALICE, "restriction_done")
    assert "Billing" in plain_text(done) and "before the restriction is lifted" in plain_text(done)

    # the access report shows the restriction
    subject = await h.desk.executor.subject(ALICE)
    out = Path(tempfile.mkdtemp(prefix="dsr-report-"))
    await h.desk.executor.export(subject, out)
    package = json.loads((out / "personal-data.json").read_text())
    restricted = package["tables"]["customer"]["about"]["restricted"]
    assert {r["purpose"] for r in restricted} >= {"Billing"}
    assert "Restricted (Art. 18 GDPR)" in (out / "personal-data.html").read_text()

    # staff lift it: the customer is told first; until our mail is accepted nothing is lifted
    result = await actions.lift(h.desk, case.reference, "cli:dpo")
    assert "told" in result.message
    with pytest.raises(DsrError, match="already under way"):
        await actions.lift(h.desk, case.reference, "cli:dpo")
    await advance(h.desk, case.id or 0)
    assert _rows(h, "select count(*) from restriction where lifted_at is null")[0][0] > 0
    assert not h.sent_to(ALICE, "restriction_lifting")
    assert await h.worker.run_once() >= 1
    (lifting,) = h.sent_to(ALICE, "restriction_lifting")
    assert case.reference in str(lifting["Subject"])
    await advance(h.desk, case.id or 0)
    assert _rows(h, "select count(*) from restriction where lifted_at is null") == [(0,)]
    (case,) = await h.cases()
    assert case_data(case).lifting == "lifted"
    trail = [(a, d.get("note") or d.get("template")) for a, d in await _actions(h, case.reference)]
    sent = trail.index(("mail_sent", "restriction_lifting"))
    lifted = trail.index(("case_note", "restriction_lifted"))
    assert trail.index(("case_note", "restriction_lift_requested")) < sent < lifted
    assert (await audit.verify(h.desk.engine)).ok


async def test_a_lawyers_letter_challenges_only_the_subject_and_data_goes_only_to_her(
    h: Harness,
) -> None:
    await h.receive(
        letter(
            LAWYER,
            "Subject access request for our client",
            "Dear Sir or Madam, I am the lawyer of Alice Liddell (alice@example.org). On her "
            "behalf I request a copy of all personal data you hold about her under Art. 15 "
            "GDPR. A power of attorney is attached.",
        )
    )
    (case,) = await h.cases()
    data = case_data(case)
    assert data.on_behalf and case.state == CaseState.AWAITING_VERIFICATION
    assert LAWYER not in data.identifiers
    # the representative: acknowledgement and what a representative must provide; no code
    assert sorted(m["X-DSR-Template"] for m in h.sent_to(LAWYER)) == [
        "acknowledgement",
        "representative_needed",
    ]
    needed = plain_text(h.sent_to(LAWYER, "representative_needed")[0])
    assert "authorisation" in needed and "proof of your own identity" in needed
    assert not CODE.search(needed) and "Alice" not in needed
    # the challenge goes to the subject's address on file and names who asked
    (challenge,) = h.sent_to(ALICE, "challenge")
    assert LAWYER in plain_text(challenge)
    await _answer_challenge(h, ALICE)
    await actions.approve(h.desk, case.reference, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    assert len(h.sent_to(ALICE, "access_package")) == 1
    assert not h.sent_to(LAWYER, "access_package") and not h.sent_to(LAWYER, "challenge")


async def test_a_lawyers_letter_about_nobody_gets_the_same_words(h: Harness) -> None:
    await h.receive(
        letter(
            LAWYER,
            "Subject access request for our client",
            "Dear Sir or Madam, I am the lawyer of Mallory Unknown (mallory@example.net). On "
            "her behalf I request a copy of all personal data you hold about her. A power of "
            "attorney is attached.",
        )
    )
    assert sorted(m["X-DSR-Template"] for m in h.sent_to(LAWYER)) == [
        "acknowledgement",
        "representative_needed",
    ]
    assert not h.sent_to("mallory@example.net")


async def test_the_same_request_three_times_joins_one_case_and_is_flagged(h: Harness) -> None:
    text = "Please send me a copy of all the personal data you hold about me."
    for n in range(3):
        await h.receive(letter(ALICE, f"My data ({n})", text))
    (case,) = await h.cases()
    data = case_data(case)
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert data.joined == 2 and data.repetitive
    assert len(h.sent_to(ALICE, "challenge")) == 1  # no second code for the same request
    joined = h.sent_to(ALICE, "request_joined")
    assert len(joined) == 2 and all(case.reference in str(m["Subject"]) for m in joined)
    assert "added it to that request" in plain_text(joined[0])
    notes = [d for a, d in await _actions(h, case.reference) if a == "case_note"]
    assert [n["requests"] for n in notes if n.get("note") == "request_joined"] == [2, 3]
    assert notes[-1]["repetitive"] is True
    # never refused: it is still answered once verified
    await _answer_challenge(h, ALICE)
    await actions.approve(h.desk, case.reference, "cli:dpo")
    await h.settle()
    assert len(h.sent_to(ALICE, "access_package")) == 1


async def test_a_letter_that_names_nobody_else_is_the_writers_own(h: Harness) -> None:
    # "my daughter" reads as someone else writing, but no other person is named: the writer's
    # own address on file is challenged, as for any request.
    await h.receive(
        letter(
            ALICE,
            "Account",
            f"Please send me a copy of my personal data. My daughter set up the account for "
            f"me. My address is {ALICE}.",
        )
    )
    (case,) = await h.cases()
    assert case_data(case).on_behalf and ALICE in case_data(case).identifiers
    assert len(h.sent_to(ALICE, "challenge")) == 1
