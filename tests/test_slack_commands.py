"""Staff intake (intake channel, /dsr new), /dsr list|show, App Home — through signed HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import select

from bot.case.lifecycle import CaseState
from bot.slack.commands import parse_command
from bot.slack.intake import StaffIntakeError, customer_address, slack_plain
from bot.work.pipeline import advance_due
from storage.models import Case, Outbox
from tests.servers.slack import INTAKE, SlackRig


def intake_message(user: str, text: str, ts: str = "1700000100.000200") -> dict[str, object]:
    return {"type": "message", "channel": INTAKE, "user": user, "text": text, "ts": ts}


async def cases(rig: SlackRig) -> list[Case]:
    async with rig.desk.sessions() as session:
        return list((await session.exec(select(Case))).all())


async def test_message_in_intake_channel_opens_one_case(slack_rig: SlackRig) -> None:
    text = (
        "<mailto:jane@example.com|jane@example.com> called: "
        "please delete my account and all my personal data"
    )
    assert await slack_rig.event(intake_message("UAPP1", text)) == 200
    (reply,) = await slack_rig.fake.wait_for("chat.postMessage")
    assert reply.params["thread_ts"] == "1700000100.000200"
    assert "Opened DSR-1" in reply.params["text"]
    assert await slack_rig.event(intake_message("UAPP1", text)) == 200  # Slack retries
    await slack_rig.fake.wait_for("chat.postMessage", 2)
    (case,) = await cases(slack_rig)
    assert case.channel == "staff" and case.requester_address == "jane@example.com"
    assert "delete" in case.intents
    await advance_due(slack_rig.desk)
    case = await slack_rig.case(case.reference)
    assert case.state == CaseState.AWAITING_VERIFICATION
    assert case.data["subject"]["addresses"] == ["jane@example.com"]
    async with slack_rig.desk.sessions() as session:
        stmt = select(Outbox).where(Outbox.template == "challenge")
        (challenge,) = (await session.exec(stmt)).all()
    assert challenge.payload["to"] == "jane@example.com"  # the address on file
    (opened,) = await slack_rig.audits("case_received")
    assert opened.actor == "slack:UAPP1" and "jane" not in opened.details


async def test_intake_for_an_unknown_address_challenges_nobody(slack_rig: SlackRig) -> None:
    text = "stranger@example.net asks for a copy of all the personal data we hold about him"
    assert await slack_rig.event(intake_message("UAPP2", text)) == 200
    await slack_rig.fake.wait_for("chat.postMessage")
    await advance_due(slack_rig.desk)
    (case,) = await cases(slack_rig)
    assert case.data["subject"]["addresses"] == []
    async with slack_rig.desk.sessions() as session:
        templates = [r.template for r in (await session.exec(select(Outbox))).all()]
    assert "challenge" not in templates and "acknowledgement" in templates


async def test_intake_by_non_approver_is_refused_and_audited(slack_rig: SlackRig) -> None:
    text = "jane@example.com wants her data"
    assert await slack_rig.event(intake_message("UINTRUDER", text)) == 200
    await slack_rig.fake.wait_for("chat.postEphemeral")
    assert await cases(slack_rig) == []
    (event,) = await slack_rig.audits("action_refused")
    assert event.actor == "slack:UINTRUDER" and '"attempted":"staff_intake"' in event.details


async def test_intake_without_address_says_how(slack_rig: SlackRig) -> None:
    assert await slack_rig.event(intake_message("UAPP1", "someone called about data")) == 200
    (reply,) = await slack_rig.fake.wait_for("chat.postMessage")
    assert "No case opened" in reply.params["text"] and "e-mail address" in reply.params["text"]
    assert await cases(slack_rig) == []


async def test_other_channels_threads_and_bots_are_ignored(slack_rig: SlackRig) -> None:
    text = "jane@example.com wants her data deleted"
    for extra in ({"channel": "CELSE"}, {"thread_ts": "1.0"}, {"bot_id": "B1"}):
        assert await slack_rig.event({**intake_message("UAPP1", text), **extra}) == 200
    assert await slack_rig.command("UAPP1", "list") == 200  # something we do wait for
    await slack_rig.fake.wait_responses(1)
    assert await cases(slack_rig) == []


async def test_dsr_new_modal_opens_a_case(slack_rig: SlackRig) -> None:
    assert await slack_rig.command("UAPP1", "new") == 200
    (opened,) = await slack_rig.fake.wait_for("views.open")
    assert opened.params["view"]["callback_id"] == "new_case_submit"
    values = {
        "address": {"value": {"type": "email_text_input", "value": "piet@example.org"}},
        "text": {"value": {"type": "plain_text_input", "value": "Wants to see his data"}},
        "intents": {"value": {"selected_options": [{"value": "see"}]}},
    }
    assert await slack_rig.submit("UAPP2", "new_case_submit", None, values) == 200
    (told,) = await slack_rig.fake.wait_for("chat.postEphemeral")
    assert "Opened DSR-1 (see)" in told.params["text"]
    (case,) = await cases(slack_rig)
    assert case.requester_address == "piet@example.org" and case.intents == ["see"]
    assert case.needs_review is False


async def test_dsr_list_and_show(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["delete"])
    assert await slack_rig.command("UAPP1", "list") == 200
    (listed,) = await slack_rig.fake.wait_responses(1)
    assert listed["response_type"] == "ephemeral" and ref in json.dumps(listed["blocks"])
    assert await slack_rig.command("UAPP1", ref.lower()) == 200
    shown = (await slack_rig.fake.wait_responses(2))[-1]
    assert "Deletion preview" in json.dumps(shown["blocks"])
    assert await slack_rig.command("UAPP1", "show DSR-999") == 200
    assert "no case DSR-999" in (await slack_rig.fake.wait_responses(3))[-1]["text"]


async def test_dsr_by_non_approver_shows_nothing(slack_rig: SlackRig) -> None:
    await slack_rig.staff_case(["see"])
    assert await slack_rig.command("UINTRUDER", "list") == 200
    (answer,) = await slack_rig.fake.wait_responses(1)
    assert "approvers" in answer["text"] and "blocks" not in answer
    assert len(await slack_rig.audits("action_refused")) == 1


async def test_app_home_lists_open_cases_for_approvers_only(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    for user in ("UAPP1", "UINTRUDER"):
        event = {"type": "app_home_opened", "user": user, "tab": "home", "channel": "D1"}
        assert await slack_rig.event(event) == 200
    published = await slack_rig.fake.wait_for("views.publish", 2)
    by_user = {c.params["user_id"]: json.dumps(c.params["view"]) for c in published}
    assert ref in by_user["UAPP1"] and ref not in by_user["UINTRUDER"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("list", "")),
        ("list", ("list", "")),
        ("show DSR-4", ("show", "DSR-4")),
        ("DSR-4", ("show", "DSR-4")),
        ("new", ("new", "")),
        ("new jane@example.com wants out", ("new", "jane@example.com wants out")),
        ("bogus", ("help", "")),
    ],
)
def test_parse_command(text: str, expected: tuple[str, str]) -> None:
    assert parse_command(text) == expected


def test_slack_formatting_is_undone_before_intake() -> None:
    raw = "<mailto:a@b.nl|a@b.nl> via <https://x.example|site> &lt;ok&gt; <@U1> <#C1|general>"
    assert slack_plain(raw) == "a@b.nl via site <ok>  general"
    assert customer_address(None, "write to A@B.nl please") == "a@b.nl"
    with pytest.raises(StaffIntakeError, match="e-mail address"):
        customer_address("not-an-address", "")


async def test_same_message_twice_at_once_opens_one_case(slack_rig: SlackRig) -> None:
    from bot.slack.intake import open_staff_case

    def once() -> Any:
        return open_staff_case(
            slack_rig.desk,
            actor="slack:UAPP1",
            source="msg:CINTAKE:1.1",
            text="jane@example.com: please delete my account and all my personal data",
        )

    first, second = await asyncio.gather(once(), once())
    assert first.ref == second.ref and {first.created, second.created} == {True, False}
    assert len(await cases(slack_rig)) == 1
