"""The Slack app (slack-bolt `AsyncApp`): card buttons, modals, `/dsr`, App Home and staff
intake. Every listener acks at once; the work runs after the ack, through `bot.work.actions`, for
approvers only (`bot.slack.staff`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_bolt.middleware.async_middleware import AsyncMiddleware

from bot.errors import CaseNotFound, DsrError
from bot.slack.commands import register_commands
from bot.slack.facts import card_facts, open_case_lines
from bot.slack.staff import Staff
from bot.slack.views import (
    change_modal,
    extend_modal,
    home_view,
    message_modal,
    read_meta,
    reclassify_modal,
    reject_modal,
    verify_modal,
)
from bot.work import actions

log = logging.getLogger(__name__)

_Submit = Callable[[str, str, dict[str, Any]], Awaitable[actions.ActionResult]]

MODALS = {
    "reject": reject_modal,
    "verify_manually": verify_modal,
    "extend": extend_modal,
    "reclassify": reclassify_modal,
}


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def _channel(body: dict[str, Any]) -> str | None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None


def _input(view: dict[str, Any], block: str) -> dict[str, Any]:
    return dict(view.get("state", {}).get("values", {}).get(block, {}).get("value") or {})


async def _on_error(error: Exception, body: dict[str, Any]) -> None:
    # bolt's default handler prints the payload; ours names the type only (no personal data)
    log.error("slack listener failed: %s (%s)", type(error).__name__, body.get("type"))


def build_slack_app(staff: Staff, *, verification: AsyncMiddleware | None) -> AsyncApp:
    """The bolt app with every listener registered.

    Args:
        staff: desk and Web API client (see `bot.slack.client.make_client`).
        verification: the signature check for HTTP mode (None in Socket Mode only, where
            Slack's connection itself is authenticated).
    """
    app = AsyncApp(
        client=staff.client,
        signing_secret="",
        request_verification_enabled=False,  # `verification` takes its place
        before_authorize=verification,
        logger=logging.getLogger("bot.slack_bolt"),
    )
    app.error(_on_error)
    _register_buttons(app, staff)
    _register_modals(app, staff)
    _register_home(app, staff)
    register_commands(app, staff)
    return app


def _register_buttons(app: AsyncApp, staff: Staff) -> None:
    desk = staff.desk

    @app.action("approve")
    async def approve(args: AsyncArgs) -> None:
        await args.ack()
        body, ref = args.body, (args.action or {}).get("value")
        await staff.act(
            _user(body), _channel(body), ref, "approve", lambda r, a: actions.approve(desk, r, a)
        )

    @app.action("dismiss")
    async def dismiss(args: AsyncArgs) -> None:
        await args.ack()
        body, ref = args.body, (args.action or {}).get("value")
        await staff.act(
            _user(body), _channel(body), ref, "dismiss", lambda r, a: actions.dismiss(desk, r, a)
        )

    @app.action("retry")
    async def retry(args: AsyncArgs) -> None:
        await args.ack()
        body, ref = args.body, (args.action or {}).get("value")
        await staff.act(
            _user(body), _channel(body), ref, "retry", lambda r, a: actions.retry(desk, r, a)
        )

    @app.action("lift_restriction")
    async def lift_restriction(args: AsyncArgs) -> None:
        await args.ack()
        body, ref = args.body, (args.action or {}).get("value")
        await staff.act(
            _user(body),
            _channel(body),
            ref,
            "lift_restriction",
            lambda r, a: actions.lift(desk, r, a),
        )

    @app.action(re.compile(r"^recipient_done:\d+$"))
    async def recipient_done(args: AsyncArgs) -> None:
        await args.ack()
        body, value = args.body, str((args.action or {}).get("value") or "")
        ref, _, key = value.partition("|")
        await staff.act(
            _user(body),
            _channel(body),
            ref,
            "recipient_done",
            lambda r, a: actions.recipient_done(desk, r, key, a),
        )

    @app.action("show_message")
    async def show_message(args: AsyncArgs) -> None:
        await args.ack()
        body, ref = args.body, str((args.action or {}).get("value") or "")
        if not await staff.gate(_user(body), _channel(body), ref, "show_message"):
            return
        try:
            case, facts = await card_facts(desk, ref)
        except CaseNotFound:
            await staff.tell(_user(body), _channel(body), "No such case.")
            return
        text = facts.message or "No message is kept for this case."
        await staff.client.views_open(
            trigger_id=body["trigger_id"], view=message_modal(case.reference, text)
        )

    @app.action("supply_change")
    async def supply_change(args: AsyncArgs) -> None:
        await args.ack()
        body, ref = args.body, str((args.action or {}).get("value") or "")
        user, channel = _user(body), _channel(body)
        if not await staff.gate(user, channel, ref, "supply_change"):
            return
        fields = [(name, label) for name, (_, label) in desk.executor.editable().items()]
        await staff.client.views_open(
            trigger_id=body["trigger_id"], view=change_modal(ref, channel, fields)
        )

    @app.action("triage_intent")
    async def triage_intent(args: AsyncArgs) -> None:
        await args.ack()
        action = args.action or {}
        label = str((action.get("selected_option") or {}).get("value") or "")
        ref = str(action.get("block_id") or "").removeprefix("case:")
        body = args.body
        await staff.act(
            _user(body),
            _channel(body),
            ref,
            "reclassify",
            lambda r, a: actions.reclassify(desk, r, a, [label]),
        )

    async def open_modal(args: AsyncArgs) -> None:
        await args.ack()
        action, body = args.action or {}, args.body
        user, channel, ref = _user(body), _channel(body), str(action.get("value") or "")
        name = str(action.get("action_id"))
        if not await staff.gate(user, channel, ref, name):
            return
        await staff.client.views_open(
            trigger_id=body["trigger_id"], view=MODALS[name](ref, channel)
        )

    for name in MODALS:
        app.action(name)(open_modal)


def _register_modals(app: AsyncApp, staff: Staff) -> None:
    desk = staff.desk

    async def submitted(args: AsyncArgs, attempted: str, run: _Submit) -> None:
        await args.ack()
        view = args.view or {}
        ref, channel = read_meta(view)
        await staff.act(_user(args.body), channel, ref, attempted, lambda r, a: run(r, a, view))

    @app.view("reject_submit")
    async def reject(args: AsyncArgs) -> None:
        async def run(ref: str, actor: str, view: dict[str, Any]) -> actions.ActionResult:
            return await actions.reject(desk, ref, actor, _input(view, "reason").get("value"))

        await submitted(args, "reject", run)

    @app.view("verify_submit")
    async def verify(args: AsyncArgs) -> None:
        async def run(ref: str, actor: str, view: dict[str, Any]) -> actions.ActionResult:
            reason = _input(view, "reason").get("value")
            return await actions.verify_manually(desk, ref, actor, reason)

        await submitted(args, "verify_manually", run)

    @app.view("extend_submit")
    async def extend(args: AsyncArgs) -> None:
        async def run(ref: str, actor: str, view: dict[str, Any]) -> actions.ActionResult:
            option = _input(view, "months").get("selected_option") or {}
            months = int(option.get("value") or 0)
            reason = _input(view, "reason").get("value")
            return await actions.extend(desk, ref, actor, months, reason)

        await submitted(args, "extend", run)

    @app.view("change_submit")
    async def change(args: AsyncArgs) -> None:
        async def run(ref: str, actor: str, view: dict[str, Any]) -> actions.ActionResult:
            option = _input(view, "field").get("selected_option") or {}
            field = str(option.get("value") or "")
            value = str(_input(view, "value").get("value") or "").strip()
            if not field or not value:
                raise DsrError("choose a field and give the new value")
            return await actions.supply_change(desk, ref, actor, [(field, value)])

        await submitted(args, "supply_change", run)

    @app.view("reclassify_submit")
    async def reclassify(args: AsyncArgs) -> None:
        async def run(ref: str, actor: str, view: dict[str, Any]) -> actions.ActionResult:
            chosen = _input(view, "intents").get("selected_options") or []
            labels = [str(o.get("value")) for o in chosen]
            return await actions.reclassify(desk, ref, actor, labels)

        await submitted(args, "reclassify", run)


def _register_home(app: AsyncApp, staff: Staff) -> None:
    @app.event("app_home_opened")
    async def home(args: AsyncArgs) -> None:
        await args.ack()
        user = str((args.event or {}).get("user") or "")
        allowed = await staff.is_approver(user)
        lines = await open_case_lines(staff.desk) if allowed else []
        await staff.client.views_publish(
            user_id=user, view=home_view(lines, date.today(), allowed=allowed)
        )
