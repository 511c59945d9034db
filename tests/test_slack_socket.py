"""Socket Mode: the same app over a WebSocket to the local fake (apps.connections.open)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.case.lifecycle import CaseState
from bot.slack.http import run_socket_mode
from tests.servers.slack import SlackRig


async def test_approve_through_socket_mode(slack_rig_factory: Any) -> None:
    rig: SlackRig = await slack_rig_factory(app_token="xapp-1-test")
    ref = await rig.staff_case(["see"])
    task = asyncio.create_task(run_socket_mode(rig.parts.app, "xapp-1-test", rig.fake.url))
    try:
        (opened,) = await rig.fake.wait_for("apps.connections.open")
        assert opened.token == "xapp-1-test"
        reason = {"value": {"type": "plain_text_input", "value": "Known caller, number on file"}}
        submit = {
            "type": "view_submission",
            "user": {"id": "UAPP1"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": "verify_submit",
                "private_metadata": f'{{"ref": "{ref}", "channel": "CPRIV"}}',
                "state": {"values": {"reason": reason}},
            },
        }
        await rig.fake.send_envelope(
            {"envelope_id": "env-1", "type": "interactive", "payload": submit}
        )
        await rig.fake.wait_for("chat.postEphemeral", 1)
        assert (await rig.case(ref)).state == CaseState.AWAITING_APPROVAL
        click = rig.click_payload("UAPP2", "approve", ref)
        await rig.fake.send_envelope(
            {"envelope_id": "env-2", "type": "interactive", "payload": click}
        )
        calls = await rig.fake.wait_for("chat.postEphemeral", 2)
        assert calls[-1].params["text"] == f"{ref} approved"
        assert (await rig.case(ref)).state == CaseState.APPROVED
        assert [e.actor for e in await rig.audits("case_approve")] == ["slack:UAPP2"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
