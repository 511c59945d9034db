"""Journeys of a result mail on the real stack (Dovecot in, aiosmtpd out, SQLite and
PostgreSQL): an erasure that keeps invoices is confirmed in the customer's language; a mail
server that refuses for hours (far past the old 8 attempts) still gets the mail in the end, and
the case is `done` only then; staff see the delay (`dsr outbox list`'s view, the report, the
audit log) and can resend.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import col, select, update

from bot.case.lifecycle import CaseState
from bot.case.report import summarise
from bot.work import actions, delivery
from storage import audit
from storage.customer.schema import Customer, Invoice
from storage.db import session_factory
from storage.models import Case, Outbox, OutboxStatus, utcnow
from tests.agent_harness import Harness, letter, plain_text

ALICE = "alice@example.org"


async def _give_alice_invoices(h: Harness, n: int = 2) -> None:
    async with session_factory(h.desk.executor.engine)() as s, s.begin():
        alice = (await s.exec(select(Customer).where(Customer.email == ALICE))).one()
        for i in range(n):
            s.add(
                Invoice(
                    customer_id=alice.id or 0,
                    number=f"INV-{i}",
                    amount_cents=1999,
                    currency="EUR",
                    issued_at=utcnow() - timedelta(days=30 * i),
                )
            )


async def _verified(h: Harness, body: str, subject: str) -> str:
    await h.receive(letter(ALICE, subject, body))
    (challenge,) = h.sent_to(ALICE, "challenge")
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", plain_text(challenge))
    assert code  # consent is the code typed in the reply (issue #14)
    reply = letter(
        ALICE,
        f"Re: {challenge['Subject']}",
        f"Ja, das war ich. {code.group(0)}",
        in_reply_to=str(challenge["Message-ID"]),
    )
    await h.receive(reply)
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    return case.reference


async def _make_due(h: Harness) -> None:
    """Let time pass: every waiting mail is due now."""
    async with h.desk.sessions() as s, s.begin():
        await s.exec(  # type: ignore[call-overload]
            update(Outbox)
            .where(col(Outbox.status) == OutboxStatus.PENDING)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_an_erasure_keeping_invoices_is_confirmed_in_german(h: Harness) -> None:
    await _give_alice_invoices(h)
    ref = await _verified(
        h,
        "Guten Tag,\n\nbitte löschen Sie mein Kundenkonto und alle meine personenbezogenen Daten."
        "\n\nMit freundlichen Grüßen\nAlice",
        "Löschung meiner Daten",
    )
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case.data.get("failure")
    (done,) = h.sent_to(ALICE, "delete_done")
    text = plain_text(done)
    assert done["Content-Language"] == "de"
    assert "- Rechnungen: Steuer- und Handelsrecht" in text
    assert "Dezember" in text or "bis " in text  # the kept-until date, written out in German
    assert "tax" not in text and "Invoices" not in text
    assert done["In-Reply-To"] == case.data["message_id"]


async def test_a_long_smtp_outage_delays_the_result_but_never_loses_it(h: Harness) -> None:
    ref = await _verified(h, "Bitte senden Sie mir eine Kopie meiner Daten (Art. 15).", "Auskunft")
    h.smtp.handler.refuse_first = h.smtp.handler.refused + 1000  # a long outage, 451 each time
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    for _ in range(12):  # 12 attempts, well past DSR_OUTBOX_MAX_ATTEMPTS (8)
        await _make_due(h)
        await h.worker.run_once()
    (case,) = await h.cases()
    assert case.state == CaseState.APPROVED  # carried out, but not done: the mail is not out
    (waiting,) = await delivery.undelivered(h.desk)
    assert waiting.template == "access_package" and waiting.status == OutboxStatus.PENDING
    assert waiting.attempts >= 12 and "451" in waiting.explanation
    assert "next attempt" in waiting.explanation
    # ... and its next attempt is at most an hour away (back-off capped hourly)
    assert waiting.next_attempt_at - utcnow() <= timedelta(minutes=76)

    # a day later staff are told, once; the report lists it
    async with h.desk.sessions() as s, s.begin():
        await s.exec(  # type: ignore[call-overload]
            update(Outbox).values(created_at=utcnow() - timedelta(days=1, minutes=1))
        )
    assert await delivery.alert_stuck(h.desk) == 1
    assert await delivery.alert_stuck(h.desk) == 0
    async with h.desk.sessions() as s:
        stuck = await s.exec(select(Outbox).where(col(Outbox.status) != OutboxStatus.SENT))
        delayed = [f"{ref}:{r.template}" for r in stuck.all()]
    assert summarise(await h.cases(), utcnow().date(), mail_delayed=delayed).mail_delayed == [
        f"{ref}:access_package"
    ]
    actions_seen = [e.action async for e in audit.events(h.desk.engine, case_ref=ref)]
    assert "mail_delayed" in actions_seen and "mail_failed" not in actions_seen

    # the server comes back: the mail goes out and only now is the case done
    h.smtp.handler.refuse_first = 0
    await _make_due(h)
    await h.settle()
    (package,) = h.sent_to(ALICE, "access_package")
    assert package["Content-Language"] == "de"
    report = next(p for p in package.iter_attachments() if p.get_filename() == "personal-data.html")
    page = report.get_content()
    page = page.decode() if isinstance(page, bytes) else page
    assert '<html lang="de">' in page and "Warum wir sie haben" in page and "Telefonnummer" in page
    assert "personal-data.json" in plain_text(package) and "personal-data.html" in plain_text(
        package
    )
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    assert await delivery.undelivered(h.desk) == []
    assert (await audit.verify(h.desk.engine)).ok


async def test_a_refused_mail_is_resent_by_staff(h: Harness) -> None:
    ref = await _verified(h, "Bitte senden Sie mir eine Kopie meiner Daten.", "Auskunft")
    h.smtp.handler.refusal = "550 5.7.1 Rejected by policy"
    h.smtp.handler.refuse_first = h.smtp.handler.refused + 1
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (failed,) = await delivery.undelivered(h.desk)
    assert failed.status == OutboxStatus.FAILED and "refused it for good" in failed.explanation
    (case,) = await h.cases()
    assert case.state == CaseState.APPROVED  # a refused result mail never makes a case done
    result = await delivery.resend(h.desk, failed.id, "cli:dpo")
    assert result.done
    again = await delivery.resend(h.desk, failed.id, "cli:dpo")  # already queued: still fine
    assert again.done
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE and len(h.sent_to(ALICE, "access_package")) == 1
    nothing = await delivery.resend(h.desk, failed.id, "cli:dpo")
    assert not nothing.done and "accepted already" in nothing.message


async def test_no_expiry_while_the_challenge_is_undelivered(h: Harness) -> None:
    h.smtp.handler.refuse_first = h.smtp.handler.refused + 1000
    await h.receive(letter(ALICE, "Auskunft", "Bitte senden Sie mir eine Kopie meiner Daten."))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION and not h.sent_to(ALICE)
    async with h.desk.sessions() as s, s.begin():  # the challenge's seven days are over
        await s.exec(  # type: ignore[call-overload]
            update(Case).values(next_action_at=utcnow() - timedelta(seconds=1))
        )
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION  # not "expired": she never got it
    assert case.next_action_at is not None and case.next_action_at > utcnow()
    h.smtp.handler.refuse_first = 0
    await _make_due(h)
    await h.settle()
    assert len(h.sent_to(ALICE, "challenge")) == 1
