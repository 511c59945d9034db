"""Staff actions through correctly signed HTTP requests to POST /slack/events, against a local
fake Slack Web API: approve, reject, reclassify, verify by hand, extend, four-eyes deletion."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlmodel import select

from bot.case.lifecycle import CaseState
from storage.models import Outbox, TrainingLabel
from tests.servers.slack import SlackRig


def text_value(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


async def answers(rig: SlackRig, n: int) -> list[str]:
    """The ephemeral answers so far, once there are `n`."""
    calls = await rig.fake.wait_for("chat.postEphemeral", n)
    return [str(c.params["text"]) for c in calls]


async def mails(rig: SlackRig, template: str) -> list[Outbox]:
    async with rig.desk.sessions() as session:
        stmt = select(Outbox).where(Outbox.kind == "mail", Outbox.template == template)
        return list((await session.exec(stmt)).all())


async def verified_case(rig: SlackRig, intents: list[str]) -> str:
    """A case verified by hand through Slack, awaiting approval."""
    ref = await rig.staff_case(intents)
    assert (await rig.case(ref)).state == CaseState.AWAITING_VERIFICATION
    before = len(rig.fake.named("chat.postEphemeral"))
    assert await rig.click("UAPP1", "verify_manually", ref) == 200
    (opened,) = await rig.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "verify_submit"
    reason = text_value("Called back the number on file; she confirmed")
    assert await rig.submit("UAPP1", "verify_submit", ref, {"reason": reason}) == 200
    await answers(rig, before + 1)
    case = await rig.case(ref)
    assert case.state == CaseState.AWAITING_APPROVAL and case.verified_by == "slack:UAPP1"
    return ref


async def test_verify_by_hand_then_approve(slack_rig: SlackRig) -> None:
    ref = await verified_case(slack_rig, ["see"])
    assert await slack_rig.click("UAPP2", "approve", ref) == 200
    said = await answers(slack_rig, 2)
    assert said[-1] == f"{ref} approved"
    assert (await slack_rig.case(ref)).state == CaseState.APPROVED
    actors = {(e.action, e.actor) for e in await slack_rig.audits()}
    assert ("case_verify_manually", "slack:UAPP1") in actors
    # the reason stays out of the audit log in clear (it may name the customer)
    verified = next(e for e in await slack_rig.audits() if e.action == "case_verify_manually")
    assert "Called back" not in verified.details and "reason_hash" in verified.details
    assert ("case_approve", "slack:UAPP2") in actors


async def test_reject_with_reason_tells_the_customer(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["delete"])
    assert await slack_rig.click("UAPP1", "reject", ref) == 200
    (opened,) = await slack_rig.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "reject_submit"
    reason = "We hold no data under this address <!channel>"
    assert await slack_rig.submit("UAPP1", "reject_submit", ref, {"reason": text_value(reason)})
    assert (await answers(slack_rig, 1))[-1] == f"{ref} rejected"
    assert (await slack_rig.case(ref)).state == CaseState.REJECTED
    (mail,) = await mails(slack_rig, "rejected")
    assert mail.payload["to"] == "jane@example.com"
    assert mail.payload["context"]["reason"] == reason
    (event,) = await slack_rig.audits("case_reject")
    assert event.actor == "slack:UAPP1" and "channel" not in event.details


async def test_reclassify_from_the_modal(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    assert await slack_rig.click("UAPP1", "reclassify", ref) == 200
    await slack_rig.fake.wait_for("views.open")
    chosen = {"value": {"selected_options": [{"value": "see"}, {"value": "delete"}]}}
    assert await slack_rig.submit("UAPP1", "reclassify_submit", ref, {"intents": chosen}) == 200
    assert "reclassified as see, delete" in (await answers(slack_rig, 1))[-1]
    case = await slack_rig.case(ref)
    assert case.state == CaseState.RECEIVED and case.intents == ["see", "delete"]
    assert case.round == 1 and case.next_action_at is not None


async def test_triage_card_select_and_training_label(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["other"])
    assert (await slack_rig.case(ref)).state == CaseState.NEEDS_TRIAGE
    status = await slack_rig.click(
        "UAPP2",
        "triage_intent",
        ref,
        type="static_select",
        selected_option={"value": "concern"},
    )
    assert status == 200
    assert "reclassified as concern" in (await answers(slack_rig, 1))[-1]
    case = await slack_rig.case(ref)
    assert case.intents == ["concern"] and case.state == CaseState.RECEIVED
    (event,) = await slack_rig.audits("case_reclassify")
    assert event.actor == "slack:UAPP2"
    async with slack_rig.desk.sessions() as session:
        labels = (await session.exec(select(TrainingLabel))).all()
    assert labels == []  # staff intake has no customer mail to learn from


async def test_dismiss_from_triage(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["other"])
    assert await slack_rig.click("UAPP1", "dismiss", ref) == 200
    assert (await answers(slack_rig, 1))[-1] == f"{ref} dismissed"
    assert (await slack_rig.case(ref)).state == CaseState.DONE


async def test_extend_with_months_and_reason(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    due = (await slack_rig.case(ref)).due_on
    assert await slack_rig.click("UAPP1", "extend", ref) == 200
    await slack_rig.fake.wait_for("views.open")
    values = {
        "months": {"value": {"selected_option": {"value": "2"}}},
        "reason": text_value("Many linked accounts to go through"),
    }
    assert await slack_rig.submit("UAPP1", "extend_submit", ref, values) == 200
    assert "now due" in (await answers(slack_rig, 1))[-1]
    case = await slack_rig.case(ref)
    assert case.extended_to is not None and (case.extended_to - due).days >= 59
    (mail,) = await mails(slack_rig, "extension")
    assert mail.payload["context"]["reason"] == "Many linked accounts to go through"


async def test_four_eyes_deletion_needs_two_distinct_approvers(slack_rig_factory: Any) -> None:
    rig: SlackRig = await slack_rig_factory(four_eyes=True)
    ref = await verified_case(rig, ["delete"])
    assert await rig.click("UAPP1", "approve", ref) == 200
    assert "approval 1 of 2" in (await answers(rig, 2))[-1]
    assert await rig.click("UAPP1", "approve", ref) == 200  # the same approver again
    assert "second approver is needed" in (await answers(rig, 3))[-1]
    assert (await rig.case(ref)).state == CaseState.AWAITING_APPROVAL
    assert await rig.click("UAPP2", "approve", ref) == 200
    assert (await answers(rig, 4))[-1] == f"{ref} approved"
    assert (await rig.case(ref)).state == CaseState.APPROVED
    recorded = await rig.audits("approval_recorded")
    assert [e.actor for e in recorded] == ["slack:UAPP1"]


async def test_concurrent_double_click_approves_once(slack_rig: SlackRig) -> None:
    ref = await verified_case(slack_rig, ["see"])
    statuses = await asyncio.gather(
        slack_rig.click("UAPP1", "approve", ref), slack_rig.click("UAPP1", "approve", ref)
    )
    assert statuses == [200, 200]
    said = await answers(slack_rig, 3)
    assert sorted(said[1:]) == sorted([f"{ref} approved", f"{ref} is approved; nothing to approve"])
    assert len(await slack_rig.audits("case_approve")) == 1
    (refused,) = await slack_rig.audits("action_refused")
    assert refused.actor == "slack:UAPP1" and refused.case_ref == ref
