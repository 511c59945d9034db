"""The Slack outbox sender against the fake Web API: one card per case edited in place, notes in
its thread, reminders, the digest, rate limits retried, and an outage that blocks nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

import bot.work.intake
from bot.slack.digest import queue_digest
from bot.slack.intake import open_staff_case
from bot.work.intake import process_recorded, record
from bot.work.outbox import OutboxWorker
from bot.work.scheduler import send_reminders
from mail.intake import Fetched
from storage.models import Case, Outbox
from tests.agent_harness import letter
from tests.servers.slack import CHANNEL, SlackRig


async def slack_rows(rig: SlackRig) -> list[Outbox]:
    async with rig.desk.sessions() as session:
        stmt = select(Outbox).where(Outbox.kind == "slack").order_by(col(Outbox.id))
        return list((await session.exec(stmt)).all())


def top_level_posts(rig: SlackRig) -> list[Any]:
    return [c for c in rig.fake.named("chat.postMessage") if "thread_ts" not in c.params]


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


async def test_card_is_posted_once_and_then_edited_in_place(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["delete"])
    assert await slack_rig.send_outbox() == 1
    (post,) = top_level_posts(slack_rig)
    assert post.params["channel"] == CHANNEL
    case = await slack_rig.case(ref)
    assert case.slack_channel == CHANNEL and case.slack_ts
    card = texts(post.params["blocks"])
    assert "Awaiting verification" in card and "Verify manually" in card
    assert "Requester: jane@example.com" in card
    assert "Deletion preview" in card and "Newsletter subscriptions: 1 deleted" in card
    reason = {"value": {"type": "plain_text_input", "value": "Called the number on file"}}
    await slack_rig.click("UAPP1", "verify_manually", ref)
    await slack_rig.submit("UAPP1", "verify_submit", ref, {"reason": reason})
    await slack_rig.fake.wait_for("chat.postEphemeral")
    assert await slack_rig.send_outbox() == 1
    (edit,) = slack_rig.fake.named("chat.update")
    assert (edit.params["channel"], edit.params["ts"]) == (CHANNEL, case.slack_ts)
    edited = texts(edit.params["blocks"])
    assert "Awaiting approval" in edited and '"action_id": "approve"' in edited
    assert "Approve deletion?" in edited  # the confirm dialog on a deletion
    assert len(top_level_posts(slack_rig)) == 1


async def test_note_goes_into_the_cards_thread(slack_rig: SlackRig) -> None:
    opened = await open_staff_case(
        slack_rig.desk,
        actor="slack:UAPP1",
        source="note-test",
        text="jane@example.com asks us to delete her domain registration data",
        intents=["delete"],
    )
    from bot.work.pipeline import advance_due

    await advance_due(slack_rig.desk)
    rows = await slack_rows(slack_rig)
    assert [r.template for r in rows] == ["thread_note", "case_card"]
    assert await slack_rig.send_outbox() == 2
    (card,) = top_level_posts(slack_rig)
    case = await slack_rig.case(opened.ref)
    notes = [c for c in slack_rig.fake.named("chat.postMessage") if "thread_ts" in c.params]
    assert [n.params["thread_ts"] for n in notes] == [case.slack_ts]
    assert "reseller" in notes[0].params["text"]
    assert len(slack_rig.fake.named("chat.update")) == 1  # the card row edited the first post
    assert card.params["channel"] == CHANNEL


async def test_rate_limit_is_retried_by_the_sdk(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    slack_rig.fake.fail(429, 1, retry_after=0)
    assert await slack_rig.send_outbox() == 1
    assert len(slack_rig.fake.named("chat.postMessage")) == 2
    assert (await slack_rig.case(ref)).slack_ts
    assert [r.status for r in await slack_rows(slack_rig)] == ["sent"]


async def test_outage_keeps_rows_pending_and_mail_flowing(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    sent_mail: list[str] = []

    async def mail(row: Outbox) -> None:
        sent_mail.append(row.template)

    worker = OutboxWorker(
        engine=slack_rig.desk.engine,
        dispatch={"slack": slack_rig.parts.dispatch, "mail": mail},
        worker_id="t",
    )
    slack_rig.fake.fail(503, 3)  # the first try and both SDK retries
    await worker.run_once()
    assert "acknowledgement" in sent_mail and "challenge" in sent_mail
    (row,) = await slack_rows(slack_rig)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and "503" in row.last_error
    assert "jane" not in row.last_error
    assert (await slack_rig.case(ref)).slack_ts is None
    async with slack_rig.desk.sessions() as session, session.begin():
        await session.exec(update(Outbox).values(next_attempt_at=row.created_at))
    await worker.run_once()  # Slack is back: the missing card is posted
    assert (await slack_rows(slack_rig))[0].status == "sent"
    assert (await slack_rig.case(ref)).slack_ts


async def test_refusal_by_slack_fails_the_row(slack_rig: SlackRig) -> None:
    await slack_rig.staff_case(["see"])
    slack_rig.fake.errors["chat.postMessage"] = "channel_not_found"
    await slack_rig.send_outbox()
    (row,) = await slack_rows(slack_rig)
    assert row.status == "failed" and "channel_not_found" in (row.last_error or "")
    assert len(await slack_rig.audits("slack_failed")) == 1


async def test_a_card_deleted_in_slack_is_posted_again(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    async with slack_rig.desk.sessions() as session, session.begin():
        await session.exec(
            update(Case)
            .where(col(Case.slack_ts).is_(None))
            .values(slack_channel=CHANNEL, slack_ts="9.9")
        )
    await slack_rig.send_outbox()
    assert len(slack_rig.fake.named("chat.update")) == 1
    assert len(top_level_posts(slack_rig)) == 1
    assert (await slack_rig.case(ref)).slack_ts != "9.9"


async def test_reminder_goes_to_the_thread_and_the_channel(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    await slack_rig.send_outbox()
    case = await slack_rig.case(ref)
    assert await send_reminders(slack_rig.desk, today=case.due_on - timedelta(days=3)) == 1
    await slack_rig.send_outbox()
    (note,) = [c for c in slack_rig.fake.named("chat.postMessage") if "thread_ts" in c.params]
    assert note.params["thread_ts"] == case.slack_ts and note.params["reply_broadcast"] is True
    assert "due in" in note.params["text"] and ref in note.params["text"]


async def test_one_digest_a_day_lists_overdue_cases(slack_rig: SlackRig) -> None:
    late = await slack_rig.staff_case(["see"])
    async with slack_rig.desk.sessions() as session, session.begin():
        await session.exec(
            update(Case)
            .where(col(Case.id) == int(late.removeprefix("DSR-")))
            .values(due_on=date.today() - timedelta(days=2))
        )
    await slack_rig.send_outbox()
    assert await queue_digest(slack_rig.desk, date.today()) is True
    assert await queue_digest(slack_rig.desk, date.today()) is False
    await slack_rig.send_outbox()
    digest = top_level_posts(slack_rig)[-1]
    body = texts(digest.params["blocks"])
    assert "Overdue: 1" in body and late in body and "overdue by 2 day(s)" in body
    assert "1 overdue" in digest.params["text"]


async def test_a_card_being_posted_elsewhere_is_not_posted_twice(slack_rig: SlackRig) -> None:
    import time

    ref = await slack_rig.staff_case(["see"])
    fresh = f"pending:{int(time.time())}:other"
    async with slack_rig.desk.sessions() as session, session.begin():
        await session.exec(update(Case).values(slack_ts=fresh))
    await slack_rig.send_outbox()
    (row,) = await slack_rows(slack_rig)
    assert row.status == "pending" and "posted elsewhere" in (row.last_error or "")
    assert top_level_posts(slack_rig) == []
    stale = f"pending:{int(time.time()) - 600}:crashed"  # its worker died mid-post
    async with slack_rig.desk.sessions() as session, session.begin():
        await session.exec(update(Case).values(slack_ts=stale))
        await session.exec(update(Outbox).values(next_attempt_at=row.created_at))
    await slack_rig.send_outbox()
    assert len(top_level_posts(slack_rig)) == 1
    posted = (await slack_rig.case(ref)).slack_ts
    assert (
        posted
        and not posted.startswith("pending:")
        and (CHANNEL, posted) in slack_rig.fake.messages
    )


async def test_a_message_that_broke_processing_is_announced_without_its_text(
    slack_rig: SlackRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model: object, text: str) -> object:  # a bug in a later stage
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.work.intake, "classify", broken)
    raw = letter("mallory@example.org", "<!channel> *now*", "Please send me my data.")
    await record(slack_rig.desk, [Fetched(raw, source="test")])
    assert await process_recorded(slack_rig.desk) == 1
    assert await slack_rig.send_outbox() == 1
    (post,) = top_level_posts(slack_rig)
    assert post.params["channel"] == CHANNEL
    assert "broke the desk's processing" in post.params["text"]
    assert "dsr inbox show" in post.params["text"]
    assert "mallory" not in post.params["text"] and "<!channel>" not in post.params["text"]


async def test_a_purged_case_card_keeps_reference_and_outcome_only(slack_rig: SlackRig) -> None:
    from bot.work import actions, purge

    ref = await slack_rig.staff_case(["delete"])
    await slack_rig.send_outbox()
    case = await slack_rig.case(ref)
    result = await actions.reject(slack_rig.desk, ref, "cli:dpo", "no such order")
    assert result.done, result.message
    await slack_rig.send_outbox()
    assert await purge.purge_case(slack_rig.desk, case.id or 0, reason="retention")
    rows = [r for r in await slack_rows(slack_rig) if r.template == "case_purged"]
    assert len(rows) == 1  # written with the purge, sent by the outbox like every Slack call
    await slack_rig.send_outbox()
    edit = slack_rig.fake.named("chat.update")[-1]
    assert (edit.params["channel"], edit.params["ts"]) == (CHANNEL, case.slack_ts)
    shown = texts(edit.params["blocks"]) + str(edit.params["text"])
    assert ref in shown and "Rejected" in shown and "purged" in shown
    assert "jane@example.com" not in shown and "action_id" not in shown
