"""A request from e-mail to done, with Slack in the loop: the card follows the case in place,
customer text reaches Slack inert, and a staff correction becomes a training label."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlmodel import select

from bot.case.lifecycle import CaseState
from bot.work.intake import ingest
from bot.work.outbox import OutboxWorker
from bot.work.pipeline import advance_due
from mail.intake import Fetched
from storage.models import Outbox, TrainingLabel
from tests.servers.slack import CHANNEL, SlackRig

HOSTILE_SUBJECT = "<!channel> *URGENT* <https://evil.example|click>"


def mail(body: str, msg_id: str, sender: str = "jane@example.com") -> Fetched:
    msg = EmailMessage()
    msg["From"] = f"Jane <{sender}>"
    msg["To"] = "privacy@example.com"
    msg["Subject"] = HOSTILE_SUBJECT
    msg["Message-ID"] = msg_id
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0000"
    msg.set_content(body)
    return Fetched(raw=msg.as_bytes(), source=f"test:{msg_id}")


def _mrkdwn_texts(node: object) -> Iterator[str]:
    """Every mrkdwn text in a Block Kit structure."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            yield str(node.get("text"))
        for value in node.values():
            yield from _mrkdwn_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _mrkdwn_texts(item)


def blocks_of(rig: SlackRig) -> str:
    ((channel, _), message), *_ = rig.fake.messages.items()
    assert channel == CHANNEL
    return json.dumps(message["blocks"], ensure_ascii=False)


async def test_email_request_to_done_with_the_card_edited_in_place(
    slack_rig: SlackRig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    body = "Hello,\n\nplease delete my account and all the personal data you hold about me.\n"
    got = await ingest(slack_rig.desk, mail(body, "<req-1@mail.example.com>"))
    assert got.case_ref == "DSR-1"
    await advance_due(slack_rig.desk)
    await slack_rig.send_outbox()
    card = blocks_of(slack_rig)
    assert "Awaiting verification" in card and "Deletion preview" in card
    # the customer's words (the message, which opens with the hostile subject) appear only in
    # plain_text objects, which Slack never parses; nothing of them in a mrkdwn object
    mrkdwn = json.dumps(list(_mrkdwn_texts(json.loads(card))))
    assert "<!channel>" not in mrkdwn and "evil.example" not in mrkdwn
    reason = {"value": {"type": "plain_text_input", "value": "Known customer, called back"}}
    await slack_rig.click("UAPP1", "verify_manually", "DSR-1")
    await slack_rig.submit("UAPP1", "verify_submit", "DSR-1", {"reason": reason})
    await slack_rig.fake.wait_for("chat.postEphemeral")
    await slack_rig.click("UAPP2", "approve", "DSR-1")
    await slack_rig.fake.wait_for("chat.postEphemeral", 2)
    await advance_due(slack_rig.desk)  # executes the approved erasure
    assert (await slack_rig.case("DSR-1")).state == CaseState.APPROVED  # mail not yet accepted
    accepted: list[str] = []

    async def accept(row: Outbox) -> None:
        accepted.append(row.template)

    mail_worker = OutboxWorker(
        engine=slack_rig.desk.engine, dispatch={"mail": accept}, worker_id="m", announce=True
    )
    await mail_worker.run_once()
    assert "delete_done" in accepted
    assert (await slack_rig.case("DSR-1")).state == CaseState.DONE
    await slack_rig.send_outbox()
    assert len(slack_rig.fake.messages) == 1  # one card, edited as the case moved
    assert len(slack_rig.fake.named("chat.update")) >= 2
    final = blocks_of(slack_rig)
    assert '"text": "*State*\\nDone"' in final and '"type": "actions"' not in final
    async with slack_rig.desk.sessions() as session:
        stmt = select(Outbox).where(Outbox.template == "delete_done")
        (done,) = (await session.exec(stmt)).all()
    assert done.payload["to"] == "jane@example.com"
    assert caplog.records and "jane" not in caplog.text.lower()  # ids and types only


async def test_reclassify_of_an_email_request_is_a_training_label(slack_rig: SlackRig) -> None:
    body = "Hi, could you tell me when my next invoice is due? Thanks\n"
    got = await ingest(slack_rig.desk, mail(body, "<req-2@mail.example.com>"))
    assert got.case_ref is not None
    await advance_due(slack_rig.desk)
    chosen = {"value": {"selected_options": [{"value": "see"}]}}
    await slack_rig.click("UAPP1", "reclassify", got.case_ref)
    await slack_rig.fake.wait_for("views.open")
    await slack_rig.submit("UAPP1", "reclassify_submit", got.case_ref, {"intents": chosen})
    await slack_rig.fake.wait_for("chat.postEphemeral")
    async with slack_rig.desk.sessions() as session:
        (label,) = (await session.exec(select(TrainingLabel))).all()
    assert label.labels == ["see"] and label.actor == "slack:UAPP1"
    assert "next invoice" in label.text
