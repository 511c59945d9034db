"""Pure Block Kit for everything but the card: modals, case lists (/dsr list, App Home, daily
digest), thread notes and reminders. Our words only, plus escaped or plain customer text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.slack.cards import (
    MAX_SECTION,
    STATE_LABELS,
    Block,
    due_text,
    escape,
    intent_options,
    md,
    pt,
)

MAX_LISTED = 40  # a message holds at most 50 blocks

NOTES = {
    "processor_data": "The request mentions domain-registration data, which we hold as a "
    "processor for resellers: once verified and approved, it is forwarded to the reseller the "
    "rows name (see *Recipients told*) and the customer is told which.",
    "recipient_overdue": ":hourglass: A recipient told of this case's erasure or correction "
    "(Art. 19) has not answered in time: see *Recipients told* on the card and "
    "`recipient_task_overdue` in the audit log.",
    "customer_replied": "The customer replied by e-mail (see the mailbox).",
    "repetitive": ":warning: *Repetitive requests* (Art. 12(5)): the same request again within "
    "the window; the card lists the earlier cases. Nothing was refused: staff decide.",
    "request_joined": ":repeat: The same request arrived again and joined this case; the "
    "customer was told.",
    "challenge_withheld": ":warning: *Challenge burst*: a challenge was not sent because an "
    "address on file reached its limit (challenges per day, or one open challenge per intent). "
    "Someone may be trying to flood the subject; see the audit log (`challenge_withheld`).",
    "subject_refused": ":no_entry: *The subject refused*: the address on file answered that it "
    "did not make this request (or asked what it was). Closed without any action on the data.",
    "replies_ignored": ":warning: Replies to the challenge that could not count arrived (not "
    "from the challenged address, a DMARC failure, or a copy of our mail): see the audit log "
    "(`verification_refused`).",
    "confirmed_one": "One of two confirmations arrived (the e-mail change needs the code from "
    "the address on file and from the new address).",
}


@dataclass(frozen=True)
class CaseLine:
    """One open case in a list: no personal data, so lists may go anywhere staff are."""

    ref: str
    state: str
    intents: tuple[str, ...]
    due: date


def note_text(note: str) -> str:
    """A thread line for a pipeline note (unknown notes are shown escaped)."""
    return NOTES.get(note, f"Note: {escape(note, 500)}")


def reminder_text(ref: str, days_left: int) -> str:
    """The reminder posted in the card's thread (and to the channel)."""
    if days_left < 0:
        return f":rotating_light: {ref} is *overdue by {-days_left} day(s)*."
    if days_left == 0:
        return f":alarm_clock: {ref} is *due today*."
    return f":alarm_clock: {ref} is due in {days_left} day(s)."


def inbox_alert_text(record: int, kind: str, size: int) -> str:
    """Staff notice of a message that needs a person; no customer text, only our numbers."""
    what = {
        "unparseable": "could not be read",
        "error": "broke the desk's processing",
    }.get(kind, "needs a person")
    return (
        f":warning: Inbound message {record} ({size:,} bytes) {what}. It is kept, not answered: "
        f"`dsr inbox show {record} --out msg.eml` to read it, "
        f"`dsr inbox retry {record}` after a fix."
    )


def mail_stuck_text(ref: str, outbox: int, template: str, hours: int, explanation: str) -> str:
    """Staff notice of a customer mail that has not been accepted for a day (our words; the
    server's answer inside `explanation` is escaped)."""
    return (
        f":warning: {ref}: the `{template}` mail to the customer has not been delivered for "
        f"{hours} hours: {escape(explanation, 600)}. It keeps being retried while the case is "
        f"open; `dsr outbox retry {outbox}` sends it at once."
    )


def case_lines(lines: Sequence[CaseLine], today: date) -> list[Block]:
    """One section per case, by due date; overdue ones stand out."""
    blocks: list[Block] = []
    for line in sorted(lines, key=lambda c: (c.due, c.ref))[:MAX_LISTED]:
        due = due_text(line.due, (line.due - today).days)
        state = STATE_LABELS.get(line.state, line.state)
        text = f"*{line.ref}* · {', '.join(line.intents) or 'unclassified'} · {state}\nDue {due}"
        blocks.append({"type": "section", "text": md(text)})
    if len(lines) > MAX_LISTED:
        blocks.append({"type": "context", "elements": [md(f"…and {len(lines) - MAX_LISTED} more")]})
    return blocks


def list_blocks(lines: Sequence[CaseLine], today: date) -> list[Block]:
    """`/dsr list`: open cases by due date."""
    head = md(f"*Open privacy requests: {len(lines)}*")
    return [{"type": "section", "text": head}, *case_lines(lines, today)]


def digest_blocks(lines: Sequence[CaseLine], today: date, within: int = 7) -> list[Block]:
    """The daily digest: overdue cases, then those due within `within` days."""
    overdue = [c for c in lines if c.due < today]
    soon = [c for c in lines if today <= c.due <= date.fromordinal(today.toordinal() + within)]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Privacy desk {today}"}},
        {"type": "section", "text": md(f"*Overdue: {len(overdue)}*")},
        *case_lines(overdue, today),
        {"type": "section", "text": md(f"*Due within {within} days: {len(soon)}*")},
        *case_lines(soon, today),
    ]
    return blocks[:50]


def home_view(lines: Sequence[CaseLine], today: date, *, allowed: bool) -> dict[str, Any]:
    """The App Home tab: open cases by due date (approvers only)."""
    if not allowed:
        text = "Only the privacy team's approvers see the case queue here."
        return {"type": "home", "blocks": [{"type": "section", "text": md(text)}]}
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Open privacy requests"}},
        *case_lines(lines, today),
    ]
    if not lines:
        blocks.append({"type": "section", "text": md("Nothing open. :tada:")})
    return {"type": "home", "blocks": blocks[:100]}


def _meta(ref: str | None, channel: str | None) -> str:
    return json.dumps({"ref": ref, "channel": channel})


def read_meta(view: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The case reference and origin channel stored in a modal's private_metadata."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None, None
    return meta.get("ref"), meta.get("channel")


def _modal(callback_id: str, title: str, blocks: list[Block], meta: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Submit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": meta,
        "blocks": blocks,
    }


def reason_input(label: str, hint: str) -> Block:
    """A required multi-line reason input (block `reason`, action `value`)."""
    return {
        "type": "input",
        "block_id": "reason",
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint},
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": True,
            "min_length": 3,
            "max_length": 2000,
        },
    }


def reject_modal(ref: str, channel: str | None) -> dict[str, Any]:
    """Reject with a reason; the customer is told the reason."""
    hint = "The customer receives this reason by e-mail; it is also audited."
    return _modal(
        "reject_submit", f"Reject {ref}", [reason_input("Reason", hint)], _meta(ref, channel)
    )


def verify_modal(ref: str, channel: str | None) -> dict[str, Any]:
    """Verify by hand with a reason (how the identity was confirmed)."""
    hint = "How was it confirmed (e.g. call-back to the number on file)? Audited: no personal data."
    block = reason_input("How was it verified?", hint)
    return _modal("verify_submit", f"Verify {ref}", [block], _meta(ref, channel))


def extend_modal(ref: str, channel: str | None) -> dict[str, Any]:
    """Extend by 1 or 2 months with a reason the customer is told (Art. 12(3))."""
    months = {
        "type": "input",
        "block_id": "months",
        "label": {"type": "plain_text", "text": "Extend by"},
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": [
                {"text": {"type": "plain_text", "text": f"{n} month(s)"}, "value": str(n)}
                for n in (1, 2)
            ],
        },
    }
    hint = "The customer is told this reason (complexity or number of requests)."
    blocks = [months, reason_input("Reason", hint)]
    return _modal("extend_submit", f"Extend {ref}", blocks, _meta(ref, channel))


def reclassify_modal(ref: str, channel: str | None) -> dict[str, Any]:
    """Choose the intents; the choice is stored as a training label."""
    choose = {
        "type": "input",
        "block_id": "intents",
        "label": {"type": "plain_text", "text": "Intents"},
        "element": {
            "type": "multi_static_select",
            "action_id": "value",
            "options": intent_options(include_other=True),
        },
    }
    return _modal("reclassify_submit", f"Reclassify {ref}", [choose], _meta(ref, channel))


def message_modal(ref: str, text: str) -> dict[str, Any]:
    """The customer's whole message, read-only, as plain text (Slack parses nothing in it)."""
    chunks = [text[i : i + MAX_SECTION] for i in range(0, len(text), MAX_SECTION)] or [" "]
    blocks: list[Block] = [{"type": "section", "text": pt(c)} for c in chunks[:99]]
    if len(chunks) > 99:
        more = "The message goes on: `dsr cases show " + ref + " --full` shows it all."
        blocks.append({"type": "context", "elements": [md(more)]})
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": f"Message {ref}"[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": blocks,
    }


def change_modal(
    ref: str, channel: str | None, fields: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """Supply the field and new value of a correction (before approval; audited)."""
    choose = {
        "type": "input",
        "block_id": "field",
        "label": {"type": "plain_text", "text": "Field to correct"},
        "element": {
            "type": "static_select",
            "action_id": "value",
            "options": [
                {"text": {"type": "plain_text", "text": label[:75]}, "value": name}
                for name, label in fields[:100]
            ],
        },
    }
    value = {
        "type": "input",
        "block_id": "value",
        "label": {"type": "plain_text", "text": "New value"},
        "hint": {
            "type": "plain_text",
            "text": "As the customer asked; it is checked, shown as a diff and approved before "
            "it is applied.",
        },
        "element": {"type": "plain_text_input", "action_id": "value", "max_length": 500},
    }
    return _modal("change_submit", f"Change {ref}", [choose, value], _meta(ref, channel))


def new_case_modal(channel: str | None) -> dict[str, Any]:
    """Staff intake: open a case for a customer who called or wrote a letter."""
    address = {
        "type": "input",
        "block_id": "address",
        "label": {"type": "plain_text", "text": "Customer's e-mail address"},
        "hint": {"type": "plain_text", "text": "Verification still goes to the address on file."},
        "element": {"type": "email_text_input", "action_id": "value"},
    }
    text = {
        "type": "input",
        "block_id": "text",
        "label": {"type": "plain_text", "text": "What did the customer ask?"},
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": True,
            "max_length": 3000,
        },
    }
    intents = {
        "type": "input",
        "block_id": "intents",
        "optional": True,
        "label": {"type": "plain_text", "text": "Intents (empty: classify the text)"},
        "element": {
            "type": "multi_static_select",
            "action_id": "value",
            "options": intent_options(),
        },
    }
    return _modal(
        "new_case_submit", "New privacy request", [address, text, intents], _meta(None, channel)
    )


def ephemeral_text(message: str) -> str:
    """A reply to one staff member: our message, escaped (it may quote an error)."""
    return escape(message, 1000)
