"""Repairing and reading cases from Slack, through signed requests to POST /slack/events and a
local fake of the Web API: the card shows the customer's message (plain text, never parsed), what
is wrong in plain words, and the buttons to fix it; *Show message* opens the whole text; *Supply
change* opens a modal whose submission records the field and value (audited by hash)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from bot.case.lifecycle import CaseState
from bot.slack.intake import open_staff_case
from bot.work.pipeline import advance_due
from tests.servers.slack import SlackRig

HOSTILE = "<!channel> *urgent* <https://evil.example|click> `code`\n" + "long words " * 120


def card_of(rig: SlackRig) -> list[dict[str, Any]]:
    ((_, _), message), *_ = rig.fake.messages.items()
    blocks: list[dict[str, Any]] = message["blocks"]
    return blocks


async def triage_case(rig: SlackRig) -> str:
    opened = await open_staff_case(
        rig.desk,
        actor="slack:UAPP1",
        source=f"test:{uuid.uuid4()}",
        text=f"jane@example.com phoned: her data is wrong, please fix it. {HOSTILE}",
        address="jane@example.com",
        intents=["change"],
    )
    await advance_due(rig.desk)
    return opened.ref


async def test_the_card_shows_the_message_and_the_missing_field(slack_rig: SlackRig) -> None:
    ref = await triage_case(slack_rig)
    assert (await slack_rig.case(ref)).state == CaseState.NEEDS_TRIAGE  # no field: not approvable
    await slack_rig.send_outbox()
    blocks = card_of(slack_rig)
    text = json.dumps(blocks, ensure_ascii=False)
    assert "Needs attention" in text and "names no field" in text
    # the customer's words only in plain_text objects, shortened, with the way to read it all
    customer = [b for b in blocks if "phoned: her data is wrong" in json.dumps(b)]
    assert customer and all(b["text"]["type"] == "plain_text" for b in customer)
    assert "Show message* opens it all" in text
    assert all("<!channel>" not in json.dumps(b) for b in blocks if b["type"] != "section")
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert "supply_change" in buttons and "show_message" in buttons and "approve" not in buttons


async def test_show_message_opens_the_whole_text_for_approvers_only(slack_rig: SlackRig) -> None:
    ref = await triage_case(slack_rig)
    assert await slack_rig.click("UNOBODY", "show_message", ref) == 200
    await slack_rig.fake.wait_for("chat.postEphemeral")
    assert not slack_rig.fake.named("views.open")
    assert await slack_rig.click("UAPP1", "show_message", ref) == 200
    (opened,) = await slack_rig.fake.wait_for("views.open")
    view = opened.params["view"]
    texts = [b["text"] for b in view["blocks"] if b["type"] == "section"]
    assert all(t["type"] == "plain_text" for t in texts)
    whole = "".join(t["text"] for t in texts)
    assert whole.count("long words") == 120 and "<!channel>" in whole  # shown, never parsed


async def test_supply_change_from_a_modal(slack_rig: SlackRig) -> None:
    ref = await triage_case(slack_rig)
    assert await slack_rig.click("UAPP2", "supply_change", ref) == 200
    (opened,) = await slack_rig.fake.wait_for("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "change_submit"
    options = view["blocks"][0]["element"]["options"]
    assert {"phone", "email", "city"} <= {o["value"] for o in options}
    values = {
        "field": {"value": {"type": "static_select", "selected_option": {"value": "phone"}}},
        "value": {"value": {"type": "plain_text_input", "value": "+49 30 9999999"}},
    }
    assert await slack_rig.submit("UAPP2", "change_submit", ref, values) == 200
    said = await slack_rig.fake.wait_for("chat.postEphemeral")
    assert "change of phone recorded" in str(said[-1].params["text"])
    case = await slack_rig.case(ref)
    assert case.state == CaseState.RECEIVED and case.data["changes"] == [
        ["phone", "+49 30 9999999"]
    ]
    await advance_due(slack_rig.desk)
    assert (await slack_rig.case(ref)).state == CaseState.AWAITING_VERIFICATION
    supplied = next(e for e in await slack_rig.audits() if e.action == "case_supply_change")
    assert supplied.actor == "slack:UAPP2" and "9999999" not in supplied.details
