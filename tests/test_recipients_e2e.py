"""Recipients (Art. 17(2), 19) and processor data through the whole desk: real Dovecot intake,
real SMTP out, the case store on SQLite and PostgreSQL, and a local webhook receiver that checks
the HMAC signature the way a recipient would.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from bot.case import store
from bot.case.lifecycle import CaseState
from bot.case.recipients import Action
from bot.slack.cards import case_card
from bot.slack.facts import card_facts
from bot.work import actions, recipients, telling
from bot.work.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature, webhook_dispatch
from intents.classify import IntentModel
from storage import audit
from storage.models import OutboxStatus, RecipientTask, TaskStatus, utcnow
from tests.agent_harness import Harness, harness, letter, plain_text
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

ALICE = "alice@example.org"
GA = "analytics-data-requests@google.example.com"
RESELLER = "datenschutz@domainpartner.example.com"
SECRET = "usersnap-shared-secret"
GA_COOKIE = "GA1.2.1111111111.1700000000"
USERSNAP_ID = "usersnap-77aa91"
YANDEX_ID = "ym-5550001"


class Receiver:
    """A recipient's webhook endpoint: checks the signature, records the body, answers 2xx."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.refused = 0
        self.busy = 0  # answer 503 this many times first

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        if self.busy:
            self.busy -= 1
            return web.json_response({"error": "busy"}, status=503)
        ok = check_signature(
            SECRET.encode(),
            request.headers.get(TIMESTAMP_HEADER, ""),
            raw,
            request.headers.get(SIGNATURE_HEADER, ""),
            now=time.time(),
        )
        if not ok:
            self.refused += 1
            return web.json_response({"error": "bad signature"}, status=401)
        self.bodies.append(json.loads(raw))
        return web.json_response({"ok": True}, status=202)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/dsr", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rec, f"http://127.0.0.1:{port}/dsr"
    finally:
        await runner.cleanup()


def _datamap(tmp: Path, webhook_url: str) -> Path:
    """The reference data map with Usersnap's webhook pointing at the local receiver."""
    raw = yaml.safe_load(Path("storage/datamap.yaml").read_text(encoding="utf-8"))
    for r in raw["tables"]["tracking_identifier"]["recipients"]:
        if r.get("key") == "usersnap":
            r["contact"] = webhook_url
    path = tmp / "datamap.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
async def h(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
    receiver: tuple[Receiver, str],
) -> AsyncIterator[Harness]:
    tmp = Path(tempfile.mkdtemp(prefix="dsr-recip-"))
    async with harness(
        case_store_url,
        dovecot,
        smtp_server,
        intent_model,
        tmp,
        datamap=_datamap(tmp, receiver[1]),
        webhook_secrets={"usersnap": SECRET},
    ) as hh:
        hh.worker.dispatch = {**hh.worker.dispatch, "webhook": webhook_dispatch(hh.desk.settings)}
        _seed_shared_rows(hh)
        yield hh


def _customers_db(h: Harness) -> str:
    return h.desk.settings.customer_database_url.split("///", 1)[1]


def _seed_shared_rows(h: Harness) -> None:
    """Alice's cookies went to Google Analytics, Usersnap and Yandex; she registered a domain
    through DomainPartner AG."""
    with sqlite3.connect(_customers_db(h)) as conn:
        (cid,) = conn.execute("select id from customer where email = ?", (ALICE,)).fetchone()
        rows = [
            ("Google Analytics", "_ga", GA_COOKIE),
            ("Usersnap", "usersnap_id", USERSNAP_ID),
            ("Yandex Metrica", "_ym_uid", YANDEX_ID),
        ]
        for recipient, cookie, ident in rows:
            conn.execute(
                "insert into tracking_identifier (customer_id, recipient, cookie_name, "
                "identifier, first_seen) values (?, ?, ?, ?, '2026-01-05 10:00:00.000000')",
                (cid, recipient, cookie, ident),
            )
        conn.execute(
            "insert into domain_registration (customer_id, domain, registrant_name, "
            "registrant_email, registrant_phone, reseller, registered_at) values "
            "(?, 'wonderland-shop.example', 'Alice Liddell', ?, '+49301234567', "
            "'DomainPartner AG', '2025-03-01 09:00:00.000000')",
            (cid, ALICE),
        )


async def _request_and_verify(h: Harness, body: str, subject: str = "Request") -> str:
    await h.receive(letter(ALICE, subject, body))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION, (case.intents, case.state)
    (challenge,) = h.sent_to(ALICE, "challenge")
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", plain_text(challenge))
    assert code
    await h.receive(
        letter(
            ALICE,
            f"Re: {challenge['Subject']}",
            f"Yes, that was me. {code.group(0)}",
            in_reply_to=str(challenge["Message-ID"]),
        )
    )
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL, case.state
    return case.reference


async def _tasks(h: Harness, ref: str) -> dict[str, RecipientTask]:
    async with h.desk.sessions() as session:
        case = await store.get_case(session, ref)
        return {t.recipient_key: t for t in await store.recipient_tasks(session, case.id or 0)}


async def _audit(h: Harness, ref: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    async for e in audit.events(h.desk.engine, case_ref=ref):
        details = json.loads(e.details) if isinstance(e.details, str) else e.details
        out.append((e.action, dict(details or {})))
    return out


async def test_an_erasure_tells_each_recipient_and_tracks_the_answers(
    h: Harness, receiver: tuple[Receiver, str]
) -> None:
    rec, _ = receiver
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE

    tasks = await _tasks(h, ref)
    assert set(tasks) == {"google-analytics", "usersnap", "yandex-metrica"}
    # Google Analytics by mail, in its language, with only what it holds and the reference.
    (mail,) = h.sent_to(GA, "recipient_erasure")
    text = plain_text(mail)
    assert f"[{ref}]" in str(mail["Subject"])
    assert GA_COOKIE in text and "cookie_name: _ga" in text
    for other in (ALICE, "Alice", USERSNAP_ID, YANDEX_ID, "Wonder GmbH", "+49"):
        assert other not in text, other
    assert tasks["google-analytics"].status == TaskStatus.SENT
    # Usersnap by a signed webhook, acknowledged by its 2xx answer.
    assert rec.refused == 0
    (body,) = rec.bodies
    assert body == {
        "type": "dsr.erasure",
        "case": ref,
        "recipient": "usersnap",
        "identifiers": {"identifier": [USERSNAP_ID]},
    }
    assert tasks["usersnap"].status == TaskStatus.ACKNOWLEDGED
    assert tasks["usersnap"].acknowledged_by == "webhook"
    # Yandex has no contact: staff do it by hand; nothing was sent to it.
    assert tasks["yandex-metrica"].status == TaskStatus.BY_HAND

    # The customer's confirmation names who was told and who is told by hand.
    (done,) = h.sent_to(ALICE, "delete_done")
    words = plain_text(done)
    told, _, by_hand = words.partition("Our staff are informing these recipients by hand:")
    assert "Google Analytics" in told and "Usersnap GmbH" in told
    assert "Yandex Metrica" in by_hand and "Yandex" not in told

    # Google Analytics answers in the thread: its task is acknowledged, no case is opened.
    reply = letter(
        GA,
        f"Re: {mail['Subject']}",
        "Done, the identifiers were deleted.",
        in_reply_to=str(mail["Message-ID"]),
    )
    await h.receive(reply)
    assert len(await h.cases()) == 1
    tasks = await _tasks(h, ref)
    assert tasks["google-analytics"].status == TaskStatus.ACKNOWLEDGED
    assert tasks["google-analytics"].acknowledged_by == "reply"

    events = await _audit(h, ref)
    sent = {d["recipient"] for a, d in events if a == "recipient_task_sent"}
    acked = {(d["recipient"], d["by"]) for a, d in events if a == "recipient_task_acknowledged"}
    assert sent == {"google-analytics", "usersnap"}
    assert acked == {("google-analytics", "reply"), ("usersnap", "webhook")}
    flat = json.dumps([d for _, d in events])
    assert GA_COOKIE not in flat and USERSNAP_ID not in flat and ALICE not in flat

    # The card lists the by-hand recipient as a to-do, with a button; staff mark it done.
    _, facts = await card_facts(h.desk, ref)
    blocks = json.dumps(case_card(facts), ensure_ascii=False)
    assert "Yandex Metrica (Yandex LLC) — erasure, no contact: to do by hand" in blocks
    assert "recipient_done:" in blocks and f"{ref}|yandex-metrica" in blocks
    result = await actions.recipient_done(h.desk, ref, "yandex-metrica", "cli:dpo")
    assert "marked done by hand" in result.message
    tasks = await _tasks(h, ref)
    assert tasks["yandex-metrica"].status == TaskStatus.DONE_BY_HAND
    assert ("recipient_task_done_by_hand", "yandex-metrica") in {
        (a, d.get("recipient")) for a, d in await _audit(h, ref)
    }
    _, facts = await card_facts(h.desk, ref)
    assert "to do by hand" not in json.dumps(case_card(facts))
    assert (await audit.verify(h.desk.engine)).ok


async def test_a_reply_from_someone_else_does_not_acknowledge(h: Harness) -> None:
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (mail,) = h.sent_to(GA, "recipient_erasure")
    forged = letter("mallory@example.net", "Re: x", "Deleted!", in_reply_to=str(mail["Message-ID"]))
    await h.receive(forged)
    assert len(await h.cases()) == 1
    assert (await _tasks(h, ref))["google-analytics"].status == TaskStatus.SENT
    assert "recipient_reply_refused" in [a for a, _ in await _audit(h, ref)]


async def test_a_processor_data_request_reaches_the_named_reseller(h: Harness) -> None:
    ref = await _request_and_verify(
        h,
        "Hello, please send me a copy of all personal data you hold about me, including the "
        "data of my domain registration.",
    )
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case.data.get("failure")
    (forward,) = h.sent_to(RESELLER, "processor_request")
    text = plain_text(forward)
    assert "domain: wonderland-shop.example" in text
    assert ALICE not in text and "Alice" not in text and "+49" not in text
    assert forward["Content-Language"] == "de"
    (redirect,) = h.sent_to(ALICE, "processor_redirect")
    assert "DomainPartner AG" in plain_text(redirect)
    assert "passed your request on to DomainPartner AG" in plain_text(redirect)
    tasks = await _tasks(h, ref)
    assert tasks["reseller:DomainPartner AG"].status == TaskStatus.SENT
    # the access package beside it carries the portable export of what Alice provided
    (package,) = h.sent_to(ALICE, "access_package")
    names = sorted(p.get_filename() or "" for p in package.iter_attachments())
    assert "provided-data.json" in names and "provided-customer.csv" in names
    provided = json.loads(
        next(
            p for p in package.iter_attachments() if p.get_filename() == "provided-data.json"
        ).get_content()
    )
    assert set(provided["tables"]) == {"customer", "newsletter_subscription", "contact_message"}
    assert "handle" not in provided["tables"]["customer"]["rows"][0]  # assigned by us


async def test_asking_whom_we_share_with_lists_the_recipients(h: Harness) -> None:
    ref = await _request_and_verify(
        h,
        "Please send me a copy of all personal data you hold about me, and tell me who you "
        "have shared my data with.",
    )
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (package,) = h.sent_to(ALICE, "access_package")
    text = plain_text(package)
    assert "You asked whom we share your data with" in text
    assert "Google Analytics (Google Ireland Ltd / Google LLC): Cookie and analytics" in text


async def test_an_unanswered_task_goes_overdue_and_staff_hear(h: Harness) -> None:
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    assert await recipients.flag_overdue(h.desk) == 0  # not yet due
    later = utcnow() + timedelta(days=h.desk.settings.recipient_answer_days, hours=1)
    assert await recipients.flag_overdue(h.desk, now=later) == 1  # only the mail waits
    tasks = await _tasks(h, ref)
    assert tasks["google-analytics"].status == TaskStatus.OVERDUE
    assert tasks["usersnap"].status == TaskStatus.ACKNOWLEDGED  # answered by its 2xx
    assert tasks["yandex-metrica"].status == TaskStatus.BY_HAND  # on the card already
    assert ("recipient_task_overdue", "google-analytics") in {
        (a, d.get("recipient")) for a, d in await _audit(h, ref)
    }
    _, facts = await card_facts(h.desk, ref)
    assert "overdue: no answer yet" in json.dumps(case_card(facts), ensure_ascii=False)
    # a late answer still counts
    (mail,) = h.sent_to(GA, "recipient_erasure")
    await h.receive(letter(GA, "Re: erasure", "Done.", in_reply_to=str(mail["Message-ID"])))
    assert (await _tasks(h, ref))["google-analytics"].status == TaskStatus.ACKNOWLEDGED


async def test_a_failing_webhook_is_retried_after_the_case_is_done(
    h: Harness, receiver: tuple[Receiver, str]
) -> None:
    rec, _ = receiver
    rec.busy = 3
    h.worker.max_attempts = 2  # a closed case's rows would give up after two attempts...
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    for _ in range(3):  # ...but a row whose task waits for its answer keeps trying
        async with h.desk.sessions() as session, session.begin():
            task = (await _tasks(h, ref))["usersnap"]
            row = await store.get_outbox_row(session, task.outbox_id or 0, for_update=True)
            assert row is not None and row.status == OutboxStatus.PENDING, row
            row.next_attempt_at = utcnow()
            await store.save_outbox_row(session, row)
        await h.worker.run_once()
    tasks = await _tasks(h, ref)
    assert tasks["usersnap"].status == TaskStatus.ACKNOWLEDGED
    assert len(rec.bodies) == 1 and rec.refused == 0


async def test_a_correction_tells_the_recipients_of_the_changed_data(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
    receiver: tuple[Receiver, str],
) -> None:
    """With a payment provider that holds the account's contact data (its own map)."""
    tmp = Path(tempfile.mkdtemp(prefix="dsr-recip-"))
    path = _datamap(tmp, receiver[1])
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["tables"]["customer"]["recipients"] = [
        {
            "name": "Payment provider (Example Payments Europe Ltd)",
            "key": "payments",
            "contact": "privacy@payments.example.com",
            "language": "fr",
            "identifiers": ["handle"],
        }
    ]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    async with harness(case_store_url, dovecot, smtp_server, intent_model, tmp, datamap=path) as hh:
        ref = await _request_and_verify(
            hh,
            "Please correct my phone number. My new phone number is +49 30 7654321.",
            subject="Wrong phone number",
        )
        await actions.approve(hh.desk, ref, "cli:dpo")
        await hh.settle()
        (mail,) = hh.sent_to("privacy@payments.example.com", "recipient_rectification")
        text = plain_text(mail)
        assert mail["Content-Language"] == "fr"
        assert "handle: C00000001" in text and "téléphone" in text.lower()
        assert "7654321" not in text and ALICE not in text
        (done,) = hh.sent_to(ALICE, "change_done")
        assert "Payment provider (Example Payments Europe Ltd)" in plain_text(done)


async def test_a_rerun_after_a_crash_mid_erasure_still_tells_the_recipients(h: Harness) -> None:
    """The first run read who held the rows, erased them, and died before its move: the re-run
    cannot find Alice any more, and tells the recipients from what the case kept."""
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    await actions.approve(h.desk, ref, "cli:dpo")
    (case,) = await h.cases()
    executor = h.desk.executor
    subject = await executor.subject(ALICE)
    plan = await executor.preview_erasure(subject)
    gone = [t.table for t in plan.tables if t.rows and t.action in ("delete", "anonymize")]
    await telling.holdings_before_erasure(h.desk, case, subject, gone)
    await executor.apply_erasure(plan, ref)  # ...and here the process died
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE, case.data.get("failure")
    assert set(await _tasks(h, ref)) == {"google-analytics", "usersnap", "yandex-metrica"}
    assert len(h.sent_to(GA, "recipient_erasure")) == 1
    assert "Google Analytics" in plain_text(h.sent_to(ALICE, "delete_done")[0])


async def test_the_restriction_hook_tells_the_recipients_of_the_categories(
    h: Harness, receiver: tuple[Receiver, str]
) -> None:
    """What restriction (Art. 18, issue #16 part B) calls once it has marked the rows."""
    rec, _ = receiver
    ref = await _request_and_verify(h, "Please delete my account and erase all my personal data.")
    subject = await h.desk.executor.subject(ALICE)
    async with h.desk.sessions() as session, session.begin():
        case = await store.get_case(session, ref)
        opened = await recipients.recipient_tasks_for(
            session, h.desk, case, subject, ["online_identifiers"], Action.RESTRICTION
        )
    assert {t.recipient_key for t in opened} == {"google-analytics", "usersnap", "yandex-metrica"}
    await h.worker.run_once()
    (mail,) = h.sent_to(GA, "recipient_restriction")
    assert GA_COOKIE in plain_text(mail) and "Art. 18" in plain_text(mail)
    assert [b["type"] for b in rec.bodies] == ["dsr.restriction"]
