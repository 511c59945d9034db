"""The case card in Block Kit, built by pure functions from `CardFacts`. Customer text goes into
`plain_text` objects (never parsed by Slack); where mrkdwn is unavoidable it passes `escape()`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bot.case.lifecycle import CLOSED_STATES, CaseState
from intents.labels import Intent

Block = dict[str, Any]

MAX_SECTION = 2900  # Slack allows 3000 characters in a section's text
MESSAGE_EXCERPT = 500  # characters of the customer's message on the card; "Show message" for all
MAX_HEADER = 150
INTENT_LABELS: dict[str, str] = {
    Intent.SEE: "See their data",
    Intent.CHANGE: "Change/correct data",
    Intent.DELETE: "Delete data",
    Intent.CONCERN: "Concern/objection",
    Intent.UNSUBSCRIBE: "Opt out of contact",
    Intent.OTHER: "Not a data-subject request",
}
STATE_LABELS: dict[str, str] = {
    CaseState.RECEIVED: "Received",
    CaseState.AWAITING_VERIFICATION: "Awaiting verification",
    CaseState.AWAITING_APPROVAL: "Awaiting approval",
    CaseState.APPROVED: "Approved, being carried out",
    CaseState.DONE: "Done",
    CaseState.NEEDS_TRIAGE: "Needs triage",
    CaseState.REJECTED: "Rejected",
    CaseState.EXPIRED: "Expired (not verified in time)",
    CaseState.FAILED: "Failed",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")
# mrkdwn has no escape character: formatting characters become look-alikes.
_FORMATTING = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ", "|": "ǀ"})


def plain(text: str, limit: int = MAX_SECTION) -> str:
    """Customer text for a `plain_text` object: control and bidi characters removed, shortened."""
    cleaned = _CONTROL.sub("", text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def escape(text: str, limit: int = MAX_SECTION) -> str:
    """Customer text made inert for mrkdwn: `&`, `<`, `>` as entities (so no `<!channel>`,
    `<@U…>` or `<http…|…>` survives), formatting characters as look-alikes, no line-start quote.

    Use it with `verbatim: true` text objects, so Slack does not link bare URLs or names either.
    """
    text = plain(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"(?m)^(\s*)&gt;", r"\1›", text)
    return text.translate(_FORMATTING)


def pt(text: str, limit: int = MAX_SECTION) -> dict[str, Any]:
    """A `plain_text` object (emoji codes not converted) for customer text."""
    return {"type": "plain_text", "text": plain(text, limit) or " ", "emoji": False}


def md(text: str) -> dict[str, Any]:
    """A `mrkdwn` object for our own text (anything from a customer must be `escape()`d)."""
    return {"type": "mrkdwn", "text": text[:MAX_SECTION] or " ", "verbatim": True}


@dataclass(frozen=True)
class CardFacts:
    """Everything the card shows, gathered by `bot.slack.facts` (I/O) for these pure builders."""

    ref: str
    state: CaseState
    intents: tuple[Intent, ...]
    due: date
    today: date
    language: str | None = None
    confidence: float | None = None
    needs_review: bool = False
    channel: str = "email"
    requester: str | None = None
    verification: str = "not started"
    extended: bool = False
    found: tuple[tuple[str, int], ...] = ()
    previews: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (our title, customer-data lines)
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: The customer's own words (raw: shown as plain_text only).
    message: str | None = None
    #: What keeps the case from moving on, and the way out (may quote a server: escaped).
    problem: str | None = None
    #: A done restriction staff may lift (Art. 18(3): the customer is told first).
    liftable: bool = False
    #: Recipient tasks (Art. 19): (line, recipient key, still to do by hand).
    recipients: tuple[tuple[str, str, bool], ...] = ()

    @property
    def days_left(self) -> int:
        """Days until the due date (negative: overdue)."""
        return (self.due - self.today).days


def due_text(due: date, days_left: int, *, closed: bool = False) -> str:
    """`2026-12-01 (5 days left)`, or a warning when overdue (mrkdwn, our text)."""
    if closed:
        return due.isoformat()
    if days_left < 0:
        return f":warning: *{due.isoformat()} — overdue by {-days_left} day(s)*"
    if days_left == 0:
        return f":warning: *{due.isoformat()} — due today*"
    return f"{due.isoformat()} ({days_left} day(s) left)"


def intents_text(intents: Sequence[str]) -> str:
    """Human labels of the intents, e.g. `Delete data (delete)`."""
    return ", ".join(f"{INTENT_LABELS.get(i, i)} ({i})" for i in intents) or "none"


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A button element; `value` carries the case reference."""
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def intent_options(include_other: bool = False) -> list[Block]:
    """Options of an intent select."""
    return [
        {"text": {"type": "plain_text", "text": label}, "value": key}
        for key, label in INTENT_LABELS.items()
        if include_other or key != Intent.OTHER
    ]


def _approve_button(facts: CardFacts) -> Block:
    element = button("Approve", "approve", facts.ref, "primary")
    if Intent.DELETE in facts.intents:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": "Approve deletion?"},
            "text": md(f"{facts.ref}: the subject's data is erased as the preview shows."),
            "confirm": {"type": "plain_text", "text": "Approve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
            "style": "danger",
        }
    return element


def action_elements(facts: CardFacts) -> list[Block]:
    """The buttons that fit the case's state (none once it is closed)."""
    elements = _state_elements(facts)
    if elements and facts.message:
        elements.append(button("Show message", "show_message", facts.ref))
    return elements


def _state_elements(facts: CardFacts) -> list[Block]:
    ref = facts.ref
    reject = button("Reject", "reject", ref, "danger")
    reclassify = button("Reclassify", "reclassify", ref)
    extend = button("Extend", "extend", ref)
    change = (
        [button("Supply change", "supply_change", ref)] if Intent.CHANGE in facts.intents else []
    )
    if facts.state == CaseState.AWAITING_APPROVAL:
        return [_approve_button(facts), reject, *change, reclassify, extend]
    if facts.state == CaseState.AWAITING_VERIFICATION:
        verify = button("Verify manually", "verify_manually", ref)
        return [verify, reject, *change, reclassify, extend]
    if facts.state == CaseState.NEEDS_TRIAGE:
        choose = {
            "type": "static_select",
            "action_id": "triage_intent",
            "placeholder": {"type": "plain_text", "text": "Choose the intent"},
            "options": intent_options(),
        }
        dismiss = button("Dismiss", "dismiss", ref)
        return [choose, *change, reclassify, dismiss, reject, extend]
    if facts.state == CaseState.FAILED:
        return [button("Retry", "retry", ref, "primary"), *change, reclassify, reject, extend]
    if facts.state == CaseState.APPROVED and facts.problem:
        return [button("Resend mail", "retry", ref)]
    if facts.liftable:
        lift = button("Lift restriction", "lift_restriction", ref)
        lift["confirm"] = {
            "title": {"type": "plain_text", "text": "Lift the restriction?"},
            "text": md(f"{ref}: the customer is told first; then the restriction is lifted."),
            "confirm": {"type": "plain_text", "text": "Lift"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
        return [lift]
    return []


def case_card(facts: CardFacts) -> list[Block]:
    """The Block Kit blocks of a case card (or triage card, when the case needs triage)."""
    closed = facts.state in CLOSED_STATES
    title = "Triage" if facts.state == CaseState.NEEDS_TRIAGE else "Privacy request"
    header = f"{title} {facts.ref}: {', '.join(facts.intents) or 'unclassified'}"
    confidence = f"{facts.confidence:.2f}" if facts.confidence is not None else "—"
    if facts.needs_review:
        confidence += " (unsure: needs review)"
    due = due_text(facts.due, facts.days_left, closed=closed)
    if facts.extended:
        due += " (extended)"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:MAX_HEADER]}},
        {
            "type": "section",
            "fields": [
                md(f"*State*\n{STATE_LABELS.get(facts.state, facts.state)}"),
                md(f"*Due*\n{due}"),
                md(f"*Intents*\n{intents_text(facts.intents)}"),
                md(f"*Language* {facts.language or 'unknown'}\n*Confidence* {confidence}"),
                md(f"*Verification*\n{facts.verification}"),
                md(f"*Channel*\n{'staff intake' if facts.channel == 'staff' else facts.channel}"),
            ],
        },
        {"type": "section", "text": pt(f"Requester: {facts.requester or 'unknown'}", 300)},
    ]
    if facts.problem:
        text = f":warning: *Needs attention*\n{escape(facts.problem, 1500)}"
        blocks.insert(1, {"type": "section", "text": md(text)})
    if facts.message:
        excerpt = plain(facts.message, MESSAGE_EXCERPT)
        more = len(facts.message) > MESSAGE_EXCERPT
        blocks.append({"type": "section", "text": md("*Message*")})
        blocks.append({"type": "section", "text": pt(excerpt)})
        if more:
            hint = f"Shortened ({len(facts.message):,} characters): *Show message* opens it all."
            blocks.append({"type": "context", "elements": [md(hint)]})
    if facts.found:
        held = "\n".join(f"• {escape(t, 100)}: {n} row(s)" for t, n in facts.found)
        blocks.append({"type": "section", "text": md(f"*Held about the subject*\n{held}")})
    for title, lines in facts.previews:
        blocks.append({"type": "section", "text": md(f"*{title}*")})
        blocks.append({"type": "section", "text": pt("\n".join(lines) or "nothing")})
    if facts.recipients:
        told = "\n".join(f"• {escape(line, 300)}" for line, _, _ in facts.recipients)
        blocks.append({"type": "section", "text": md(f"*Recipients told (Art. 19)*\n{told}")})
        by_hand = [
            button(f"Mark told: {plain(line.split(' — ')[0], 40)}", f"recipient_done:{n}", v)
            for n, (line, key, todo) in enumerate(facts.recipients)
            if todo and (v := f"{facts.ref}|{key}")
        ]
        if by_hand:
            blocks.append(
                {"type": "actions", "block_id": f"recipients:{facts.ref}", "elements": by_hand[:5]}
            )
    if facts.notes:
        blocks.append({"type": "context", "elements": [md(n) for n in facts.notes[:10]]})
    elements = action_elements(facts)
    if elements:
        blocks.append({"type": "actions", "block_id": f"case:{facts.ref}", "elements": elements})
    return blocks


def purged_card(
    ref: str, state: CaseState | str, closed_at: datetime | None
) -> tuple[list[Block], str]:
    """A purged case's card: the reference and the outcome only (blocks and notification text);
    the request, the requester and the conversation are gone from the desk."""
    outcome = STATE_LABELS.get(state, str(state))
    closed = f", closed {closed_at.date().isoformat()}" if closed_at else ""
    text = f"{ref}: {outcome}{closed}. Personal content purged."
    return [{"type": "section", "text": pt(text, 300)}], text


def fallback_text(facts: CardFacts) -> str:
    """The notification text of the card (our words only: it is parsed as mrkdwn)."""
    state = STATE_LABELS.get(facts.state, facts.state)
    return f"{facts.ref} ({', '.join(facts.intents) or 'unclassified'}): {state}"
