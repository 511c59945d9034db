"""Repairing cases on the real stack (Dovecot in, aiosmtpd out, SQLite and PostgreSQL): a French
correction that names no field goes to triage (acknowledged, never "approved"), staff supply the
field and value, the customer verifies, staff see the diff and approve; a correction that fails
when applied shows why in plain words and is repaired with a new value, approved again; and
`dsr cases show|change|retry` with their exit codes.
"""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from typer.testing import CliRunner, Result

from bot.case.lifecycle import CaseState
from bot.cli.main import app
from bot.errors import DsrError
from bot.work import actions, review
from storage import audit
from tests.agent_harness import SECRET, Harness, letter, plain_text

ALICE = "alice@example.org"
runner = CliRunner()


async def _cli(h: Harness, *args: str) -> Result:
    env = {
        "DSR_DATABASE_URL": h.desk.settings.database_url,
        "DSR_CUSTOMER_DATABASE_URL": h.desk.settings.customer_database_url,
        "DSR_SECRET_KEY": SECRET,
    }
    return await asyncio.to_thread(runner.invoke, app, list(args), env=env)


async def _verify(h: Harness, address: str = ALICE, template: str = "challenge") -> None:
    challenge = h.sent_to(address, template)[-1]
    body = challenge.get_body(preferencelist=("plain",))
    assert body is not None
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", str(body.get_content()))
    assert code  # consent is the code typed in the reply (issue #14)
    await h.receive(
        letter(
            address,
            f"Re: {challenge['Subject']}",
            f"Oui, c'est bien moi. {code.group(0)}",
            in_reply_to=str(challenge["Message-ID"]),
        )
    )


async def test_a_correction_without_a_field_is_repaired_before_approval(h: Harness) -> None:
    await h.receive(
        letter(
            ALICE,
            "Données inexactes",
            "Bonjour,\n\nles informations de mon compte client sont fausses. Merci de les "
            "rectifier conformément à l'article 16 du RGPD.\n\nCordialement,\nAlice",
        )
    )
    (case,) = await h.cases()
    assert "change" in case.intents and case.state == CaseState.NEEDS_TRIAGE
    ref = case.reference
    (ack,) = h.sent_to(ALICE, "acknowledgement")  # the customer knows we have it, in French
    assert ack["Content-Language"] == "fr" and ack["In-Reply-To"] == case.data["message_id"]
    refused = await actions.approve(h.desk, ref, "cli:dpo")  # never to approval without a field
    assert not refused.done or "nothing to approve" in refused.message
    shown = await _cli(h, "cases", "show", ref)
    assert shown.exit_code == 0, shown.output
    assert "PROBLEM" in shown.output and "names no field" in shown.output
    assert "    | les informations de mon compte client sont fausses." in shown.output

    bad = await _cli(h, "cases", "change", ref, "shoe_size=44")
    assert bad.exit_code == 2 and "not a field that can be corrected" in bad.output
    good = await _cli(h, "cases", "change", ref, "phone=+33 6 12 34 56 78")
    assert good.exit_code == 0 and "change of phone recorded" in good.output, good.output
    await h.settle()  # starts over: verification at the address on file
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert len(h.sent_to(ALICE, "acknowledgement")) == 1  # not acknowledged twice
    await _verify(h)
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    seen = await review.review(h.desk, case)
    assert seen.change == ("- Telephone: +49301234567", "+ Telephone: +33612345678")

    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    templates = [m["X-DSR-Template"] for m in h.sent_to(ALICE)]
    assert templates == ["acknowledgement", "challenge", "change_done"]  # no "approved"
    done = h.sent_to(ALICE, "change_done")[0]
    assert "numéro de téléphone" in plain_text(done) and "Telephone" not in plain_text(done)
    events = [e async for e in audit.events(h.desk.engine, case_ref=ref)]
    supplied = next(e for e in events if e.action == "case_supply_change")
    details = (
        json.loads(supplied.details) if isinstance(supplied.details, str) else supplied.details
    )
    assert details["fields"] == ["phone"] and "+33" not in str(details)  # a keyed hash only


async def test_a_failed_correction_says_why_and_is_repaired(h: Harness) -> None:
    await h.receive(
        letter(ALICE, "New e-mail address", "Please change my e-mail address to bob@example.net.")
    )
    (case,) = await h.cases()
    ref = case.reference
    assert case.data["changes"] == [["email", "bob@example.net"]]
    await _verify(h)
    # An e-mail change needs the new address's code too (issue #14); the store refuses anyway.
    await _verify(h, "bob@example.net", "challenge_new_address")
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()  # bob@example.net is Bob's: the store refuses the change
    (case,) = await h.cases()
    assert case.state == CaseState.FAILED
    shown = await _cli(h, "cases", "show", ref)
    assert "PROBLEM     Carrying it out failed: the correction cannot be made" in shown.output
    assert "dsr cases retry" in shown.output
    assert not h.sent_to(ALICE, "change_done")

    again = await _cli(h, "cases", "retry", ref)  # the same change fails the same way
    assert again.exit_code == 0 and "will be retried" in again.output
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.FAILED

    with pytest.raises(DsrError, match="not a field"):
        await actions.supply_change(h.desk, ref, "cli:dpo", [("shoe_size", "44")])
    fixed = await _cli(h, "cases", "change", ref, "email=alice.new@example.org")
    assert fixed.exit_code == 0, fixed.output
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL  # the new diff is approved first
    assert (await review.review(h.desk, case)).change == (
        "- E-mail address: alice@example.org",
        "+ E-mail address: alice.new@example.org",
    )
    nothing = await _cli(h, "cases", "retry", ref)
    assert nothing.exit_code == 2 and "nothing to retry" in nothing.output
    await actions.approve(h.desk, ref, "cli:dpo")
    await h.settle()
    (case,) = await h.cases()
    assert case.state == CaseState.DONE
    (done,) = h.sent_to("alice.new@example.org", "change_done") or h.sent_to(ALICE, "change_done")
    assert "e-mail address" in plain_text(done)


async def test_cases_show_gives_the_deletion_preview(h: Harness) -> None:
    await h.receive(letter(ALICE, "Delete", "Please delete my account and all my personal data."))
    await _verify(h)
    (case,) = await h.cases()
    assert case.state == CaseState.AWAITING_APPROVAL
    shown = await _cli(h, "cases", "show", case.reference)
    assert shown.exit_code == 0, shown.output
    assert "  requester   alice@example.org" in shown.output
    assert "  deletion preview\n    Your customer account: 1 anonymized" in shown.output
    assert "PROBLEM" not in shown.output
    assert "    | Please delete my account and all my personal data." in shown.output
