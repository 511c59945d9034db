"""What must be refused or harmless, and audited: forged or stale requests, clicks by people who
are not approvers, clicks on closed cases; and the pure signature check."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.case.lifecycle import CaseState
from bot.slack.verification import signature_problem
from tests.servers.slack import SECRET, SlackRig, sign


async def test_forged_signature_is_refused_and_audited(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    body = slack_rig.form(slack_rig.click_payload("UAPP1", "verify_manually", ref))
    forged = sign(body, secret="not-the-secret")
    assert await slack_rig.post(body, headers=forged) == 401
    (event,) = await slack_rig.audits("slack_request_refused")
    assert event.actor == "slack:unverified" and '"why":"bad_signature"' in event.details
    assert slack_rig.fake.named("views.open") == []
    assert (await slack_rig.case(ref)).state == CaseState.AWAITING_VERIFICATION


async def test_tampered_body_is_refused(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    body = slack_rig.form(slack_rig.click_payload("UOTHER", "approve", ref))
    headers = sign(body)
    tampered = body.replace("UOTHER", "UAPP1")
    assert await slack_rig.post(tampered, headers=headers) == 401
    assert len(await slack_rig.audits("slack_request_refused")) == 1


async def test_stale_timestamp_is_refused_and_audited(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    body = slack_rig.form(slack_rig.click_payload("UAPP1", "approve", ref))
    old = sign(body, ts=int(time.time()) - 6 * 60)  # correctly signed, but replayed too late
    assert await slack_rig.post(body, headers=old) == 401
    (event,) = await slack_rig.audits("slack_request_refused")
    assert '"why":"stale_timestamp"' in event.details


async def test_unsigned_garbage_gets_401_not_500(slack_rig: SlackRig) -> None:
    assert await slack_rig.post("{not json", headers={}) == 401
    (event,) = await slack_rig.audits("slack_request_refused")
    assert '"why":"missing_headers"' in event.details


async def test_a_flood_of_forgeries_is_audited_in_summary(slack_rig: SlackRig) -> None:
    for _ in range(20):
        assert await slack_rig.post("x=1", headers=sign("x=1", secret="wrong")) == 401
    events = await slack_rig.audits("slack_request_refused")
    assert 1 <= len(events) < 20  # at most one event per second and reason, each with a count


async def test_click_by_non_approver_is_refused_told_and_audited(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    assert await slack_rig.click("UINTRUDER", "verify_manually", ref) == 200
    (told,) = await slack_rig.fake.wait_for("chat.postEphemeral")
    assert told.params["user"] == "UINTRUDER" and "approvers" in told.params["text"]
    (event,) = await slack_rig.audits("action_refused")
    assert event.actor == "slack:UINTRUDER" and event.case_ref == ref
    assert '"why":"not_an_approver"' in event.details
    assert slack_rig.fake.named("views.open") == []  # not even the modal opens


async def test_modal_submission_by_non_approver_is_refused(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["see"])
    values = {"reason": {"value": {"type": "plain_text_input", "value": "trust me"}}}
    assert await slack_rig.submit("UINTRUDER", "verify_submit", ref, values) == 200
    await slack_rig.fake.wait_for("chat.postEphemeral")
    assert (await slack_rig.case(ref)).state == CaseState.AWAITING_VERIFICATION
    assert len(await slack_rig.audits("action_refused")) == 1


async def test_member_of_the_approver_group_may_act(slack_rig_factory: Any) -> None:
    rig: SlackRig = await slack_rig_factory(slack_approver_group="SPRIVACY")
    rig.fake.group_members["SPRIVACY"] = ["UGROUP"]
    ref = await rig.staff_case(["other"])
    assert await rig.click("UGROUP", "dismiss", ref) == 200
    assert (await rig.fake.wait_for("chat.postEphemeral"))[0].params["text"] == f"{ref} dismissed"
    assert (await rig.case(ref)).state == CaseState.DONE


async def test_click_on_a_closed_case_is_refused_and_audited(slack_rig: SlackRig) -> None:
    ref = await slack_rig.staff_case(["other"])
    assert await slack_rig.click("UAPP1", "dismiss", ref) == 200
    await slack_rig.fake.wait_for("chat.postEphemeral")
    assert (await slack_rig.case(ref)).state == CaseState.DONE
    # an old card still shows the buttons: a late click must change nothing
    assert await slack_rig.click("UAPP2", "dismiss", ref) == 200
    assert await slack_rig.click("UAPP2", "approve", ref) == 200
    said = [c.params["text"] for c in await slack_rig.fake.wait_for("chat.postEphemeral", 3)]
    assert any("Not done" in s and "not allowed in state 'done'" in s for s in said)
    assert any("nothing to approve" in s for s in said)
    refused = await slack_rig.audits("action_refused")
    assert {e.actor for e in refused} == {"slack:UAPP2"}
    assert {'"attempted":"dismiss"' in e.details for e in refused} == {True, False}
    assert (await slack_rig.case(ref)).state == CaseState.DONE


@pytest.mark.parametrize(
    ("headers", "age", "why"),
    [
        ({}, 0, "missing_headers"),
        ({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=x"}, 0, "bad_timestamp"),
        (None, 301, "stale_timestamp"),
        (None, -301, "stale_timestamp"),
        ({"x-slack-request-timestamp": "{ts}", "x-slack-signature": "v0=00"}, 0, "bad_signature"),
        (None, 299, None),
    ],
    ids=["missing", "not-a-number", "too-old", "from-the-future", "wrong", "just-in-time"],
)
def test_signature_problem(headers: dict[str, str] | None, age: int, why: str | None) -> None:
    now = 1_800_000_000
    body = "payload=%7B%7D"
    if headers is None:
        headers = sign(body, ts=now - age)
    headers = {k: v.replace("{ts}", str(now)) for k, v in headers.items()}
    assert signature_problem(SECRET, body, headers, now) == why


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-Slack-Request-Timestamp": "²", "X-Slack-Signature": "v0=00"}, "bad_timestamp"),
        (
            {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠", "X-Slack-Signature": "v0=00"},
            "bad_timestamp",
        ),
        ({"X-Slack-Request-Timestamp": "9" * 40, "X-Slack-Signature": "v0=00"}, "bad_timestamp"),
        ({}, "missing_headers"),
        ({"X-Slack-Signature": "v0=00"}, "missing_headers"),
        ({"X-Slack-Request-Timestamp": "{now}"}, "missing_headers"),
    ],
    ids=["superscript-two", "arabic-indic-digits", "forty-digits", "none", "no-ts", "no-sig"],
)
async def test_malformed_signature_headers_get_401_and_an_audit_entry(
    slack_rig: SlackRig, headers: dict[str, str], why: str
) -> None:
    ref = await slack_rig.staff_case(["see"])
    body = slack_rig.form(slack_rig.click_payload("UAPP1", "verify_manually", ref))
    sent = {k: v.replace("{now}", str(int(time.time()))) for k, v in headers.items()}
    assert await slack_rig.post(body, headers=sent) == 401  # never a 500
    (event,) = await slack_rig.audits("slack_request_refused")
    assert event.actor == "slack:unverified" and f'"why":"{why}"' in event.details
    assert slack_rig.fake.named("views.open") == []
    assert (await slack_rig.case(ref)).state == CaseState.AWAITING_VERIFICATION
