"""End to end through a real Dovecot, a real SMTP server and the database (SQLite and
PostgreSQL): see, change, delete, unsubscribe, concern, other, two intents, a reply joining its
case, and expiry.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta
from email.message import EmailMessage

from bot.case.data import case_data
from bot.case.lifecycle import CaseState
from bot.work import actions
from storage import audit
from storage.models import utcnow
from tests.agent_harness import Harness, letter, plain_text

ALICE = "alice@example.org"


async def _request_and_verify(h: Harness, body: str, subject: str = "Request") -> str:
    """Alice asks; the challenge goes to her address on file; she replies to it."""
    await h.receive(letter(ALICE, subject, body))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION, (case.intents, case.state)
    challenge = h.sent_to(ALICE, "challenge")
    assert len(challenge) == 1 and _has_code(challenge[0]), [m["Subject"] for m in h.sent]
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", plain_text(challenge[-1]))
    assert code
    reply = letter(
        ALICE,
        f"Re: {challenge[-1]['Subject']}",
        f"Yes, that was me. {code.group(0)}",
        in_reply_to=str(challenge[-1]["Message-ID"]),
    )
    await h.receive(reply)
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    return case.reference


def _has_code(msg: EmailMessage) -> bool:
    return re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", plain_text(msg)) is not None


def _customer_rows(h: Harness, sql: str) -> list[tuple[object, ...]]:
    path = h.desk.settings.customer_database_url.split("///", 1)[1]
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


async def test_see_request_sends_the_access_package_to_the_address_on_file(h: Harness) -> None:
    ref = await _request_and_verify(
        h, "Hello, under the GDPR I would like a copy of all personal data you hold about me."
    )
    result = await actions.approve(h.desk, ref, "cli:dpo")
    assert "approved" in result.message
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    (package,) = h.sent_to(ALICE, "access_package")
    assert f"[{ref}]" in str(package["Subject"])
    names = sorted(p.get_filename() for p in package.iter_attachments())
    assert names == [
        "personal-data.html",
        "personal-data.json",
        # Art. 20: what she provided, as JSON and one CSV per table (a header alone when empty)
        "provided-contact_message.csv",
        "provided-customer.csv",
        "provided-data.json",
        "provided-newsletter_subscription.csv",
    ]
    data = json.loads(
        next(
            p for p in package.iter_attachments() if p.get_filename() == "personal-data.json"
        ).get_content()
    )
    assert "Alice Liddell" in json.dumps(data)
    # no "approved" mail before the work is done: the result is the answer, threaded
    assert [m["X-DSR-Template"] for m in h.sent_to(ALICE)] == [
        "acknowledgement",
        "challenge",
        "access_package",
    ]
    request_id = case_data(case).message_id
    assert request_id and package["In-Reply-To"] == request_id
    assert request_id in str(package["References"]).split()
    # The customer has the package now: the desk keeps no copy of it, and says so in the log.
    assert not (h.desk.packages_dir / ref).exists()
    removed = [e async for e in audit.events(h.desk.engine, case_ref=ref)]
    removed = [e for e in removed if e.action == "package_removed"]
    assert len(removed) == 1 and json.loads(str(removed[0].details))["reason"] == "delivered"
    assert (await audit.verify(h.desk.engine)).ok


async def test_change_request_is_applied_after_approval(h: Harness) -> None:
    ref = await _request_and_verify(
        h,
        "Please correct my phone number. My new phone number is +49 30 7654321.",
        subject="Wrong phone number",
    )
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case.data.get("failure")
    assert _customer_rows(h, "select phone from customer where email = 'alice@example.org'") == [
        ("+49307654321",)
    ]
    (done,) = h.sent_to(ALICE, "change_done")
    assert "phone" in plain_text(done).lower() or "telephone" in plain_text(done).lower()


async def test_delete_request_erases_and_names_what_is_kept(h: Harness) -> None:
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    assert _customer_rows(h, "select count(*) from customer where email = 'alice@example.org'") == [
        (0,)
    ]
    assert _customer_rows(
        h, "select count(*) from newsletter_subscription where email = 'alice@example.org'"
    ) == [(0,)]


async def test_unsubscribe_is_carried_out_at_once(h: Harness) -> None:
    await h.receive(letter(ALICE, "newsletter", "Please stop sending me your newsletter."))
    (case,) = await h.cases()
    assert case.state == CaseState.DONE and case.intents == ["unsubscribe"]
    assert _customer_rows(
        h, "select count(*) from newsletter_subscription where email = 'alice@example.org'"
    ) == [(0,)]
    assert len(h.sent_to(ALICE)) == 1


async def test_concern_is_acknowledged_with_the_right_to_complain(h: Harness) -> None:
    await h.receive(
        letter(
            ALICE,
            "Worried",
            "I am worried that you share my data with Facebook "
            "and Google for advertising. Why do you do this?",
        )
    )
    (case,) = await h.cases()
    assert "concern" in case.intents and case.state == CaseState.AWAITING_APPROVAL
    (ack,) = h.sent_to(ALICE)
    assert "supervisory" in plain_text(ack).lower() or "authority" in plain_text(ack).lower()


async def test_other_goes_to_triage_without_a_reply(h: Harness) -> None:
    await h.receive(
        letter(
            ALICE,
            "Login",
            "Hi, I cannot log in to the dashboard since "
            "yesterday. How do I reset my password? Thanks!",
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.NEEDS_TRIAGE
    assert h.sent == []


async def test_two_intents_see_before_delete(h: Harness) -> None:
    ref = await _request_and_verify(
        h,
        "Please send me a copy of all the data you have about me, and after that delete my "
        "account and all my data.",
    )
    (case,) = await h.cases()
    assert {"see", "delete"} <= set(case.intents)
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    # The package was exported before the erasure: it still holds Alice's data.
    (package,) = [m for m in h.sent_to(ALICE) if m.get_content_type() == "multipart/mixed"]
    data = next(p for p in package.iter_attachments() if p.get_filename() == "personal-data.json")
    assert b"Alice Liddell" in data.get_content()
    assert _customer_rows(h, "select count(*) from customer where email = 'alice@example.org'") == [
        (0,)
    ]


async def test_a_reply_joins_its_case(h: Harness) -> None:
    # A concern the classifier decides on its own (a vaguer one goes to a person first).
    text = "I object to the way you process my personal data. This is a complaint."
    await h.receive(letter(ALICE, "Worried", text))
    (case,) = await h.cases()
    (ack,) = h.sent_to(ALICE, "concern_ack")
    await h.receive(
        letter(ALICE, f"Re: {ack['Subject']}", "Any news?", in_reply_to=str(ack["Message-ID"]))
    )
    assert len(await h.cases()) == 1
    events = [e.action async for e in audit.events(h.desk.engine, case_ref=case.reference)]
    assert "case_note" in events


async def test_unverified_case_expires_with_a_polite_mail(h: Harness) -> None:
    await h.receive(letter(ALICE, "Data", "Please send me all my personal data."))
    (case,) = await h.cases()
    async with h.desk.sessions() as s, s.begin():
        stored = await s.get(type(case), case.id)
        assert stored is not None
        stored.next_action_at = utcnow() - timedelta(seconds=1)
        s.add(stored)
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.EXPIRED
    assert any(case.reference in str(m["Subject"]) for m in h.sent_to(ALICE))


async def test_a_rerun_after_a_crash_mid_erasure_completes_the_case(h: Harness) -> None:
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    executor = h.desk.executor
    plan = await executor.preview_erasure(await executor.subject(ALICE))
    await executor.apply_erasure(plan, ref)  # a first run got this far, then the process died
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case.data.get("failure")
    assert len(h.sent_to(ALICE, "delete_done")) == 1
