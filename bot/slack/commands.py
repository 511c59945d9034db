"""`/dsr list|show DSR-n|DSR-n|new [text]|help` and staff intake (a message in
DSR_SLACK_INTAKE_CHANNEL, or the `/dsr new` modal) — approvers only, refusals audited.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs

from bot.errors import CaseNotFound
from bot.slack.cards import case_card
from bot.slack.facts import card_facts, open_case_lines
from bot.slack.intake import StaffIntakeError, open_staff_case, slack_plain
from bot.slack.staff import REFUSAL, Staff, case_ref_or_none
from bot.slack.views import list_blocks, new_case_modal, read_meta

log = logging.getLogger(__name__)

USAGE = (
    "`/dsr list` open cases by due date · `/dsr show DSR-12` (or just `/dsr DSR-12`) one case · "
    "`/dsr new` open a case for a customer who called or wrote · "
    "`/dsr new jane@example.com wants her data deleted` the same in one line"
)


def parse_command(text: str) -> tuple[str, str]:
    """(`list`|`show`|`new`|`help`, argument). Pure."""
    words = text.strip().split(maxsplit=1)
    if not words:
        return "list", ""
    verb, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
    if verb in {"list", "ls", "open"}:
        return "list", ""
    if verb in {"show", "find", "get"}:
        return "show", rest.strip()
    if verb == "new":
        return "new", rest.strip()
    if case_ref_or_none(words[0]):
        return "show", words[0]
    return "help", ""


def opened_text(ref: str, intents: tuple[str, ...], created: bool) -> str:
    """What staff are told after intake (our words)."""
    if not created:
        return f"This was already opened as {ref}."
    return (
        f"Opened {ref} ({', '.join(intents) or 'to triage'}). The customer's identity is checked "
        "by e-mail to the address on file; the card follows in the privacy channel."
    )


def register_commands(app: AsyncApp, staff: Staff) -> None:
    """Register `/dsr`, the intake-channel message listener and the new-case modal."""
    desk = staff.desk

    @app.command("/dsr")
    async def dsr(args: AsyncArgs) -> None:
        await args.ack()
        command = args.command or {}
        user, channel = str(command.get("user_id")), command.get("channel_id")
        verb, rest = parse_command(str(command.get("text") or ""))
        if verb == "help":
            await args.respond(text=USAGE, response_type="ephemeral")
            return
        if not await staff.is_approver(user):
            await staff.audit_refusal(user, rest, f"command_{verb}", "not_an_approver")
            await args.respond(text=REFUSAL, response_type="ephemeral")
            return
        if verb == "list":
            lines = await open_case_lines(desk)
            blocks = list_blocks(lines, date.today())
            await args.respond(text=f"{len(lines)} open", blocks=blocks, response_type="ephemeral")
        elif verb == "show":
            await _show(args, staff, rest)
        elif rest:
            await _intake(staff, user, channel, f"cmd:{command.get('trigger_id')}", rest, args)
        else:
            await staff.client.views_open(
                trigger_id=str(command.get("trigger_id")), view=new_case_modal(channel)
            )

    @app.view("new_case_submit")
    async def new_case(args: AsyncArgs) -> None:
        await args.ack()
        view = args.view or {}
        _, channel = read_meta(view)
        values = view.get("state", {}).get("values", {})
        address = (values.get("address", {}).get("value") or {}).get("value")
        text = (values.get("text", {}).get("value") or {}).get("value") or ""
        chosen = (values.get("intents", {}).get("value") or {}).get("selected_options") or []
        user = str((args.body.get("user") or {}).get("id"))
        if not await staff.gate(user, channel, None, "staff_intake"):
            return
        source = f"view:{view.get('id')}:{view.get('hash')}"
        intents = [str(o.get("value")) for o in chosen]
        await _intake(staff, user, channel, source, text, None, address=address, intents=intents)

    @app.event("message")
    async def message(args: AsyncArgs) -> None:
        await args.ack()
        event: dict[str, Any] = args.event or {}
        intake_channel = desk.settings.slack_intake_channel
        if (
            not intake_channel
            or event.get("channel") != intake_channel
            or event.get("subtype")
            or event.get("bot_id")
            or event.get("thread_ts")
        ):
            return
        user, ts = str(event.get("user")), str(event.get("ts"))
        if not await staff.gate(user, intake_channel, None, "staff_intake"):
            return
        text = slack_plain(str(event.get("text") or ""))
        await _intake(staff, user, intake_channel, f"msg:{intake_channel}:{ts}", text, None, ts)


async def _show(args: AsyncArgs, staff: Staff, rest: str) -> None:
    ref = case_ref_or_none(rest)
    if ref is None:
        await args.respond(text="Which case? e.g. `/dsr show DSR-12`", response_type="ephemeral")
        return
    try:
        _, facts = await card_facts(staff.desk, ref)
    except CaseNotFound:
        await args.respond(text=f"There is no case {ref}.", response_type="ephemeral")
        return
    await args.respond(text=ref, blocks=case_card(facts), response_type="ephemeral")


async def _intake(
    staff: Staff,
    user: str,
    channel: str | None,
    source: str,
    text: str,
    args: AsyncArgs | None,
    thread_ts: str | None = None,
    *,
    address: str | None = None,
    intents: list[str] | None = None,
) -> None:
    try:
        opened = await open_staff_case(
            staff.desk,
            actor=f"slack:{user}",
            source=source,
            text=text,
            address=address,
            intents=intents or (),
        )
        answer = opened_text(opened.ref, opened.intents, opened.created)
    except StaffIntakeError as exc:
        await staff.audit_refusal(user, None, "staff_intake", type(exc).__name__)
        answer = f"No case opened: {exc}"
    if args is not None:
        await args.respond(text=answer, response_type="ephemeral")
    elif thread_ts and channel:
        try:
            await staff.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=answer)
        except Exception as exc:  # the case is open and audited; the reply is a nicety
            log.warning("intake reply failed: %s", type(exc).__name__)
    else:
        await staff.tell(user, channel, answer)
