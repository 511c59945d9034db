"""Marking a recipient told by hand from its card's button, through a signed request to
POST /slack/events against the local fake Slack Web API: approvers only, audited."""

from __future__ import annotations

from bot.case import store
from storage.models import RecipientTask, TaskStatus
from tests.servers.slack import SlackRig


async def _by_hand_task(rig: SlackRig, ref: str) -> None:
    async with rig.desk.sessions() as session, session.begin():
        case = await store.get_case(session, ref)
        await store.add_recipient_task(
            session,
            RecipientTask(
                case_id=case.id or 0,
                recipient_key="yandex-metrica",
                recipient_name="Yandex Metrica (Yandex LLC)",
                action="erasure",
                channel="manual",
                status=TaskStatus.BY_HAND,
            ),
        )


async def _status(rig: SlackRig, ref: str) -> str:
    async with rig.desk.sessions() as session:
        case = await store.get_case(session, ref)
        (task,) = await store.recipient_tasks(session, case.id or 0)
        return str(task.status)


async def test_mark_told_by_hand_from_the_card(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["delete"])
    await _by_hand_task(slack_rig, ref)
    value = f"{ref}|yandex-metrica"
    # not an approver: refused and audited, nothing changes
    assert await slack_rig.click("UOTHER", "recipient_done:0", ref, value=value) == 200
    await slack_rig.fake.wait_for("chat.postEphemeral", 1)
    assert await _status(slack_rig, ref) == TaskStatus.BY_HAND
    # an approver marks it done
    assert await slack_rig.click("UAPP1", "recipient_done:0", ref, value=value) == 200
    calls = await slack_rig.fake.wait_for("chat.postEphemeral", 2)
    assert "marked done by hand" in str(calls[-1].params["text"])
    assert await _status(slack_rig, ref) == TaskStatus.DONE_BY_HAND
    events = {(e.action, e.actor) for e in await slack_rig.audits()}
    assert ("recipient_task_done_by_hand", "slack:UAPP1") in events
    assert ("action_refused", "slack:UOTHER") in events
