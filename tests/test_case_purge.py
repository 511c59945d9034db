"""Retention of case records (`bot.work.purge`): a closed case's personal content goes once
`DSR_CASE_RETENTION` has passed since its close — scheduled, audited, resumable, by hand with
`dsr cases purge`, counted by `dsr report` — on SQLite and PostgreSQL, end to end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import tempfile
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from bot.case.data import CaseData, case_data
from bot.case.lifecycle import CaseState
from bot.cli.main import app
from bot.slack.cards import purged_card
from bot.work import actions, purge
from intents.classify import IntentModel
from mail.maildir import MaildirSender
from storage import audit
from storage.customer.access import private_dir
from storage.models import Approval, Case, InboundMessage, Outbox, TrainingLabel, utcnow
from tests.agent_harness import CUSTOMERS, SECRET, Harness, harness, letter
from tests.leaks import find_leaks, needles
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

ALICE = "alice@example.org"
LETTER = "Under the GDPR I want a copy of all personal data you hold about me. Alice Liddell"
runner = CliRunner()


def _code(h: Harness) -> tuple[str, str, str]:
    (challenge,) = h.sent_to(ALICE, "challenge")
    body = challenge.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", str(body.get_content()))
    assert found
    return found.group(0), str(challenge["Subject"]), str(challenge["Message-ID"])


async def _done_see_case(h: Harness) -> str:
    """Alice asks for her data, types her code, staff approve, the package is delivered."""
    await h.receive(letter(ALICE, "My data", LETTER))
    code, subject, mid = _code(h)
    await h.receive(letter(ALICE, f"Re: {subject}", f"It was me: {code}", in_reply_to=mid))
    (case,) = await h.cases()
    await actions.approve(h.desk, case.reference, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    return case.reference


async def _case_store_text(h: Harness) -> bytes:
    """Every row of the case store's tables but the audit log, as text (what a purge cleans),
    read through the models' columns: sealed values opened, so what a purge left is seen."""
    out: list[str] = []
    async with h.desk.engine.connect() as conn:
        for model in (Case, InboundMessage, Outbox, Approval, TrainingLabel):
            rows = await conn.execute(select(model.__table__))  # type: ignore[attr-defined]
            out += [repr(tuple(r)) for r in rows]
    return "\n".join(out).encode()


def _alice_needles() -> dict[bytes, str]:
    alice = CUSTOMERS[0]
    return needles([alice["email"], alice["name"], alice["phone"], alice["street"], LETTER])


async def _events(h: Harness, action: str) -> list[dict[str, Any]]:
    return [json.loads(e.details) async for e in audit.events(h.desk.engine) if e.action == action]


async def test_retention_purges_a_closed_case_and_keeps_its_outcome(h: Harness) -> None:
    ref = await _done_see_case(h)
    # before: the case store holds Alice's mails and address (needed while the case lives)
    assert find_leaks(await _case_store_text(h), _alice_needles())
    # within the retention period nothing happens
    assert (await purge.purge_expired(h.desk)).references == ()
    later = utcnow() + timedelta(days=3 * 366)
    dry = await purge.purge_expired(h.desk, now=later, dry_run=True)
    assert dry.references == (ref,) and dry.dry_run
    assert find_leaks(await _case_store_text(h), _alice_needles())  # a dry run changes nothing

    assert (await purge.purge_expired(h.desk, now=later)).references == (ref,)
    assert find_leaks(await _case_store_text(h), _alice_needles()) == []
    (case,) = await h.cases()
    assert case.purged_at is not None and case.state == CaseState.DONE
    assert case.intents == ["see"] and case.closed_at is not None and case.received_at
    assert case.requester_address is None and case_data(case).identifiers == ()
    assert case_data(case).confirmations == ("consent",)  # how it was handled stays
    (event,) = await _events(h, "case_purged")
    assert event["reason"] == "retention" and event["state"] == "done" and event["records"] == 2
    assert "alice" not in json.dumps(event).lower()
    # idempotent: a second run finds nothing, and the chain stays intact
    assert (await purge.purge_expired(h.desk, now=later)).references == ()
    assert await purge.purge_case(h.desk, case.id or 0, reason="retention") is False
    assert len(await _events(h, "case_purged")) == 1
    assert (await audit.verify(h.desk.engine)).ok


async def test_a_crash_midway_is_repaired_by_the_next_run(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _done_see_case(h)
    later = utcnow() + timedelta(days=3 * 366)
    real_append = audit.append

    async def crash(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("action") == "case_purged":
            raise ConnectionError("the database went away")
        return await real_append(*args, **kwargs)

    monkeypatch.setattr(purge.audit, "append", crash)
    with pytest.raises(ConnectionError):
        await purge.purge_expired(h.desk, now=later)
    (case,) = await h.cases()
    assert case.purged_at is None  # rolled back whole: nothing half-purged
    assert find_leaks(await _case_store_text(h), _alice_needles())
    monkeypatch.setattr(purge.audit, "append", real_append)
    assert len((await purge.purge_expired(h.desk, now=later)).references) == 1
    assert find_leaks(await _case_store_text(h), _alice_needles()) == []
    assert (await audit.verify(h.desk.engine)).ok


async def test_dsr_cases_purge_and_the_report_count(h: Harness) -> None:
    ref = await _done_see_case(h)
    env = {
        "DSR_DATABASE_URL": h.desk.settings.database_url,
        "DSR_CUSTOMER_DATABASE_URL": h.desk.settings.customer_database_url,
        "DSR_SECRET_KEY": SECRET,
    }
    # the shortest retention the setting allows, with the case closed 40 days ago
    async with h.desk.engine.begin() as conn:
        await conn.execute(
            text("UPDATE dsr_case SET closed_at = :t"), {"t": utcnow() - timedelta(days=40)}
        )
    kept = await asyncio.to_thread(runner.invoke, app, ["cases", "purge"], env=env)
    assert kept.exit_code == 2 and "purged 0 case(s) closed more than 3y ago" in kept.output
    env["DSR_CASE_RETENTION"] = "30d"
    dry = await asyncio.to_thread(runner.invoke, app, ["cases", "purge", "--dry-run"], env=env)
    assert dry.exit_code == 0 and f"would purge 1 case(s) closed more than 30d ago: {ref}" in (
        dry.output
    )
    done = await asyncio.to_thread(runner.invoke, app, ["cases", "purge"], env=env)
    assert done.exit_code == 0, done.output
    assert f"purged 1 case(s) closed more than 30d ago: {ref}" in done.output
    report = await asyncio.to_thread(runner.invoke, app, ["report", "--json"], env=env)
    assert json.loads(report.output)["purged_this_month"] == 1
    plain = await asyncio.to_thread(runner.invoke, app, ["report"], env=env)
    assert "cases purged this month (retention, or the subject's erasure): 1" in plain.output
    verify = await asyncio.to_thread(runner.invoke, app, ["audit", "verify"], env=env)
    assert verify.exit_code == 0, verify.output
    (event,) = await _events(h, "case_purged")
    assert event["reason"] == "retention"


def test_purged_data_keeps_how_it_was_handled_not_who() -> None:
    data = CaseData(
        identifiers=("alice@example.org",),
        changes=(("phone", "+49 30 7654321"),),
        subject_line="Alice Liddell's data",
        verified_address="alice@example.org",
        new_address="new@example.org",
        confirmations=("consent",),
        manual_verification_reason="phoned Alice Liddell",
        review_reason="low_score",
    )
    left = json.dumps(data.purged().to_json())
    assert "alice" not in left.lower() and "7654321" not in left and "new@" not in left
    assert data.purged().changes == (("phone", ""),)
    assert data.purged().confirmations == ("consent",) and data.purged().review_reason


def test_a_purged_card_shows_reference_and_outcome_only() -> None:
    blocks, fallback = purged_card("DSR-9", CaseState.DONE, utcnow())
    shown = json.dumps(blocks) + fallback
    assert "DSR-9" in shown and "purged" in shown.lower()
    assert len(blocks) == 1  # no requester, message or buttons left


async def test_an_erasure_request_erases_the_desks_earlier_records_and_says_so(h: Harness) -> None:
    """delete_done's promise — "Our privacy desk has also erased what it kept about your earlier
    requests to us (1) … The messages and addresses of this request are kept until <date> …" —
    is the code: the earlier case is purged now, this one after DSR_CASE_RETENTION."""
    first = await _done_see_case(h)
    await h.receive(letter(ALICE, "Erase me", "Please delete my account and all my personal data."))
    code, subject, mid = _code_of_last(h)
    await h.receive(letter(ALICE, f"Re: {subject}", f"Confirmed {code}", in_reply_to=mid))
    second = next(c for c in await h.cases() if c.reference != first)
    await actions.approve(h.desk, second.reference, "cli:dpo")
    await h.settle()
    earlier, current = await h.cases()
    assert current.state == CaseState.DONE and current.purged_at is None
    assert earlier.purged_at is not None and earlier.requester_address is None
    (event,) = await _events(h, "case_purged")
    assert event["reason"] == "subject_erasure" and event["records"] == 2
    (done,) = h.sent_to(ALICE, "delete_done")
    body = done.get_body(preferencelist=("plain",))
    assert body is not None
    text = " ".join(str(body.get_content()).split())
    assert (
        "Our privacy desk has also erased what it kept about your earlier requests to us (1)"
        in (text)
    )
    assert "under a pseudonym instead of your name or address" in text
    kept_until = purge.purge_date("3y", utcnow()).strftime("%B %-d, %Y")  # babel's English
    assert f"kept until {kept_until} for the same reason" in text
    html = done.get_body(preferencelist=("html",))
    assert html is not None and "earlier requests to us (1)" in str(html.get_content())
    # what the mail promises for this request: purged by the sweep after that date, not before
    assert (await purge.purge_expired(h.desk)).references == ()
    after = purge.purge_date("3y", current.closed_at or utcnow()) + timedelta(hours=1)
    assert (await purge.purge_expired(h.desk, now=after)).references == (current.reference,)
    assert (await audit.verify(h.desk.engine)).ok


def _code_of_last(h: Harness) -> tuple[str, str, str]:
    challenge = h.sent_to(ALICE, "challenge")[-1]
    body = challenge.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", str(body.get_content()))
    assert found
    return found.group(0), str(challenge["Subject"]), str(challenge["Message-ID"])


async def test_a_see_request_shows_what_the_desk_holds_about_the_person(h: Harness) -> None:
    await h.receive(letter("bob@example.net", "news", "Please stop sending me your newsletter."))
    await h.receive(letter(ALICE, "newsletter", "Please stop sending me your newsletter."))
    bobs, first = await h.cases()
    assert first.state == CaseState.DONE and first.intents == ["unsubscribe"]
    await h.receive(letter(ALICE, "My data", LETTER))
    code, subject, mid = _code_of_last(h)
    await h.receive(letter(ALICE, f"Re: {subject}", f"It was me: {code}", in_reply_to=mid))
    second = (await h.cases())[-1]
    await actions.approve(h.desk, second.reference, "cli:dpo")
    await h.settle()
    (package,) = h.sent_to(ALICE, "access_package")
    files = {p.get_filename(): p.get_content() for p in package.iter_attachments()}
    desk = json.loads(files["personal-data.json"])["privacy_desk"]
    assert [(r["reference"], r["intents"], r["outcome"]) for r in desk["requests"]] == [
        (first.reference, ["unsubscribe"], "done"),
        (second.reference, ["see"], "open"),
    ]
    assert desk["requests"][0]["closed"] and "pseudonym" in desk["about"]
    assert "Your requests to our privacy desk" in str(files["personal-data.html"])
    # someone else's requests never appear in it
    assert bobs.reference not in files["personal-data.json"].decode()


async def test_leftovers_are_swept_packages_and_mail_of_no_case(h: Harness) -> None:
    ref = await _done_see_case(h)
    # a crash between the `sent` commit and the removal leaves the package behind
    left = private_dir(h.desk.packages_dir / ref)
    (left / "personal-data.json").write_text('{"name": "Alice Liddell"}')
    assert await purge.sweep_packages(h.desk) == [ref]
    assert not left.exists() and await purge.sweep_packages(h.desk) == []
    swept = [e for e in await _events(h, "package_removed") if e["reason"] == "sweep"]
    assert swept == [{"reason": "sweep", "files": 1}]
    # an auto-reply belongs to no case; its text goes after the retention period too
    robot = letter(
        "holiday@example.org",
        "Out of office",
        "I am away until Monday, Alice Liddell",
        headers={"Auto-Submitted": "auto-replied"},
    )
    await h.receive(robot)
    assert await purge.purge_loose_records(h.desk) == 0
    later = utcnow() + timedelta(days=3 * 366)
    assert await purge.purge_loose_records(h.desk, now=later) == 1
    assert await purge.purge_loose_records(h.desk, now=later) == 0
    (event,) = await _events(h, "records_purged")
    assert event == {"reason": "retention", "records": 1}
    assert (await audit.verify(h.desk.engine)).ok


async def test_the_hourly_sweep_purges_by_the_configured_retention(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
) -> None:
    from bot.work.scheduler import retention_sweep

    tmp = Path(tempfile.mkdtemp(prefix="dsr-sweep-"))
    async with harness(
        case_store_url, dovecot, smtp_server, intent_model, tmp, case_retention="30d"
    ) as hh:
        ref = await _done_see_case(hh)
        counts = await retention_sweep(hh.desk)
        assert (counts["cases"], counts["packages"]) == (0, 0)
        async with hh.desk.engine.begin() as conn:
            await conn.execute(
                text("UPDATE dsr_case SET closed_at = :t"), {"t": utcnow() - timedelta(days=31)}
            )
        assert (await retention_sweep(hh.desk))["cases"] == 1
        (case,) = await hh.cases()
        assert case.reference == ref and case.purged_at is not None
        assert (await retention_sweep(hh.desk))["cases"] == 0


async def test_without_a_relay_the_outbox_maildir_copies_go_with_the_case(h: Harness) -> None:
    """With no SMTP relay, `DSR_OUTBOX_MAILDIR` is where mail was "sent": a purge takes the
    case's mails from there too, and leaves everyone else's."""
    ref = await _done_see_case(h)
    outbox = Path(tempfile.mkdtemp(prefix="dsr-outbox-")) / "outbox"
    sender = MaildirSender(outbox)
    for msg in h.sent:
        await sender.send(msg)
    other = letter("bob@example.net", "Someone else's", "kept")
    await sender.send(message_from_bytes(other, policy=policy.default))
    settings = h.desk.settings.model_copy(update={"smtp_host": None, "outbox_maildir": outbox})
    desk = dataclasses.replace(h.desk, settings=settings)
    (case,) = await h.cases()
    assert await purge.purge_case(desk, case.id or 0, reason="retention")
    left = list((outbox / "new").iterdir())
    assert len(left) == 1 and b"Someone else's" in left[0].read_bytes()
    (event,) = await _events(h, "case_purged")
    assert event["sent_copies"] == len(h.sent) == 3 and ref == case.reference


async def test_staff_see_a_purged_case_as_purged(h: Harness) -> None:
    from bot.work.delivery import resend

    ref = await _done_see_case(h)
    later = utcnow() + timedelta(days=3 * 366)
    await purge.purge_expired(h.desk, now=later)
    env = {
        "DSR_DATABASE_URL": h.desk.settings.database_url,
        "DSR_CUSTOMER_DATABASE_URL": h.desk.settings.customer_database_url,
        "DSR_SECRET_KEY": SECRET,
    }
    shown = await asyncio.to_thread(runner.invoke, app, ["cases", "show", ref], env=env)
    assert shown.exit_code == 0, shown.output
    assert "PURGED" in shown.output and ALICE not in shown.output
    assert "Alice" not in shown.output
    async with h.desk.sessions() as session:
        from bot.case import store

        (row, *_) = await store.outbox_of_case(session, int(ref.removeprefix("DSR-")))
    result = await resend(h.desk, row.id or 0, "cli:dpo")
    assert not result.done and "purged" in result.message


async def test_an_open_case_is_never_purged(h: Harness) -> None:
    from bot.errors import CaseStillOpen

    await h.receive(letter(ALICE, "My data", LETTER))
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    with pytest.raises(CaseStillOpen, match=case.reference):
        await purge.purge_case(h.desk, case.id or 0, reason="retention")
    assert find_leaks(await _case_store_text(h), _alice_needles())  # untouched
