"""Telling recipients (Art. 17(2), 19) and controllers (processor data): the pure decisions.

From what the customer store says each recipient holds (`storage.customer.recipients`), one
task per recipient and action, with the message it gets: a templated mail in the recipient's
language, or a webhook body, carrying only the identifiers that recipient holds and the case
reference. Recipients without a contact become tasks staff do by hand. Also the words the
customer's confirmation and the staff card use. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.case.messages import OutboxItem, mail_item
from storage.customer.recipients import ControllerHolding, Holding
from storage.models import RecipientTask, TaskStatus


class Action(StrEnum):
    """What a recipient is told about."""

    ERASURE = "erasure"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    PROCESSOR = "processor"


#: The mail (and webhook event) per action.
TEMPLATES = {
    Action.ERASURE: "recipient_erasure",
    Action.RECTIFICATION: "recipient_rectification",
    Action.RESTRICTION: "recipient_restriction",
    Action.PROCESSOR: "processor_request",
}
WEBHOOK_KIND = "webhook"


@dataclass(frozen=True)
class TaskPlan:
    """One task to open, and the message that carries it (None: staff do it by hand)."""

    task: RecipientTask
    message: OutboxItem | None


def controller_holding(c: ControllerHolding) -> Holding:
    """A reseller as a recipient of a forwarded request (key `reseller:<name>`)."""
    return Holding(
        key=f"reseller:{c.name}"[:64],
        name=c.name,
        channel="email" if c.contact else "manual",
        contact=c.contact,
        language=c.language,
        secret=None,
        tables=(c.table,),
        categories=(),
        identifiers=c.identifiers,
    )


def identifier_lines(holding: Holding) -> list[str]:
    """`column: value` lines of what the recipient holds (all its message says of the person)."""
    return [f"{column}: {value}" for column, value in holding.identifiers]


def webhook_body(
    holding: Holding, action: Action, case_ref: str, fields: Sequence[str]
) -> dict[str, Any]:
    """The JSON a webhook recipient receives (signed at send time)."""
    ids: dict[str, list[str]] = {}
    for column, value in holding.identifiers:
        ids.setdefault(column, []).append(value)
    body: dict[str, Any] = {
        "type": f"dsr.{action.value}",
        "case": case_ref,
        "recipient": holding.key,
        "identifiers": ids,
    }
    if fields:
        body["fields"] = list(fields)
    return body


def plan_tasks(
    holdings: Sequence[Holding],
    action: Action,
    *,
    case_id: int,
    case_ref: str,
    now: datetime,
    answer_days: int,
    fields: Sequence[str] = (),
) -> list[TaskPlan]:
    """One task per recipient, with its message (pure).

    Args:
        fields: for a rectification, the names of the corrected fields; for a processor
            request, what was asked (intent labels).
    """
    out = []
    template = TEMPLATES[action]
    for h in holdings:
        task = RecipientTask(
            case_id=case_id,
            recipient_key=h.key[:64],
            recipient_name=h.name[:255],
            action=action.value,
            channel=h.channel,
            contact=h.contact,
            status=TaskStatus.BY_HAND if h.channel == "manual" else TaskStatus.QUEUED,
            due_at=now + timedelta(days=answer_days),
        )
        message: OutboxItem | None = None
        if h.channel == "email" and h.contact:
            context: dict[str, Any] = {
                "case_ref": case_ref,
                "recipient": h.name,
                "identifiers": identifier_lines(h),
            }
            if action == Action.RECTIFICATION:
                context["fields"] = list(fields)
            if action == Action.PROCESSOR:
                context["intents"] = list(fields)
            message = mail_item(
                template, to=h.contact, lang=h.language, context=context, auto_submitted=False
            )
        elif h.channel == "webhook" and h.contact:
            message = OutboxItem(
                WEBHOOK_KIND,
                template,
                {
                    "url": h.contact,
                    "secret": h.secret,
                    "body": webhook_body(h, action, case_ref, fields),
                },
            )
        out.append(TaskPlan(task, message))
    return out


def told_and_by_hand(holdings: Sequence[Holding]) -> tuple[list[str], list[str]]:
    """The recipients' names the customer's confirmation gives: told by us (mail or webhook),
    and being told by hand by staff."""
    told = [h.name for h in holdings if h.channel != "manual"]
    by_hand = [h.name for h in holdings if h.channel == "manual"]
    return told, by_hand


#: How a task's state reads for staff.
STATUS_WORDS = {
    TaskStatus.BY_HAND: "to do by hand",
    TaskStatus.QUEUED: "being sent",
    TaskStatus.SENT: "sent, waiting for an answer",
    TaskStatus.ACKNOWLEDGED: "acknowledged",
    TaskStatus.OVERDUE: "overdue: no answer yet",
    TaskStatus.DONE_BY_HAND: "done by hand",
}


def task_line(task: RecipientTask) -> str:
    """One line per task for the card and `dsr cases show` (no customer data)."""
    words = STATUS_WORDS[TaskStatus(task.status)]
    how = {"email": "by e-mail", "webhook": "by webhook", "manual": "no contact"}.get(
        task.channel, task.channel
    )
    extra = ""
    if task.status == TaskStatus.ACKNOWLEDGED and task.acknowledged_by:
        extra = f" ({task.acknowledged_by})"
    if task.status == TaskStatus.DONE_BY_HAND and task.actor:
        extra = f" ({task.actor})"
    return f"{task.recipient_name} — {task.action}, {how}: {words}{extra} [{task.recipient_key}]"


__all__ = [
    "TEMPLATES",
    "WEBHOOK_KIND",
    "Action",
    "TaskPlan",
    "controller_holding",
    "identifier_lines",
    "plan_tasks",
    "task_line",
    "told_and_by_hand",
    "webhook_body",
]
