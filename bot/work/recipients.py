"""Recipient tasks at work: open them with their messages, follow delivery and answers, flag
the overdue, and let staff mark by-hand ones done. Every step is audited with the recipient's
key and the channel only (no customer data: the identifiers are in the recipient's own message).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from bot.case.messages import slack_item
from bot.case.recipients import Action, plan_tasks
from bot.errors import CaseNotFound
from bot.work.desk import Desk
from storage import audit
from storage.customer import Subject
from storage.customer.recipients import Holding
from storage.models import Case, Outbox, RecipientTask, TaskStatus, reference_of, utcnow

log = logging.getLogger(__name__)


async def open_tasks(
    session: AsyncSession,
    desk: Desk,
    case: Case,
    holdings: Sequence[Holding],
    action: Action,
    *,
    fields: Sequence[str] = (),
    now: datetime | None = None,
) -> list[RecipientTask]:
    """Open one task per recipient with its mail or webhook in the outbox, in the caller's
    transaction (idempotent per case, recipient and action)."""
    now = now or utcnow()
    plans = plan_tasks(
        holdings,
        action,
        case_id=case.id or 0,
        case_ref=case.reference,
        now=now,
        answer_days=desk.settings.recipient_answer_days,
        fields=fields,
    )
    opened = []
    for plan in plans:
        task = plan.task
        if not await store.add_recipient_task(session, task):
            continue  # a re-run: this recipient was already told
        if plan.message is not None:
            (row,) = await store.add_outbox(
                session, case, [plan.message], domain=desk.settings.own_domain
            )
            task.outbox_id, task.message_id = row.id, row.message_id
            await store.save_recipient_task(session, task)
        await audit.append(
            session,
            action="recipient_task_opened",
            actor="system",
            case_ref=case.reference,
            details={
                "recipient": task.recipient_key,
                "task": action.value,
                "channel": task.channel,
                "status": str(task.status),
            },
        )
        opened.append(task)
    return opened


async def recipient_tasks_for(
    session: AsyncSession,
    desk: Desk,
    case: Case,
    subject: Subject,
    categories: Sequence[str],
    action: Action,
) -> list[RecipientTask]:
    """The hook for other actions (restriction): tell every recipient of a table holding one of
    `categories` with rows of this subject. Reads the customer store, then opens the tasks in
    the caller's transaction."""
    tables = [
        name
        for name, spec in desk.executor.datamap.tables.items()
        if any(spec.column(c).category in categories for c in spec.columns)
    ]
    holdings = await desk.executor.recipient_holdings(subject, only=tables)
    return await open_tasks(session, desk, case, holdings, action)


async def on_delivered(
    session: AsyncSession, row: Outbox, *, announce: bool, domain: str = "dsr.invalid"
) -> None:
    """The outbox delivered a task's message: a mail is `sent`; a webhook's 2xx answer
    acknowledges it. In the outbox row's own transaction."""
    task = await store.recipient_task_of_outbox(session, row.id)
    if task is None or task.status not in (TaskStatus.QUEUED, TaskStatus.OVERDUE):
        return
    ref = reference_of(task.case_id)
    now = utcnow()
    task.sent_at = now
    await audit.append(
        session,
        action="recipient_task_sent",
        actor="system",
        case_ref=ref,
        details={"recipient": task.recipient_key, "task": task.action, "channel": task.channel},
    )
    if row.kind == "webhook":
        await _acknowledge(session, task, by="webhook", actor="system", now=now)
    else:
        task.status = TaskStatus.SENT
        await store.save_recipient_task(session, task)
    if announce:
        await store.add_outbox(session, None, [slack_item("case_card", case=ref)], domain=domain)


async def _acknowledge(
    session: AsyncSession, task: RecipientTask, *, by: str, actor: str, now: datetime
) -> None:
    task.status = TaskStatus.ACKNOWLEDGED
    task.acknowledged_at, task.acknowledged_by = now, by
    await store.save_recipient_task(session, task)
    await audit.append(
        session,
        action="recipient_task_acknowledged",
        actor=actor,
        case_ref=reference_of(task.case_id),
        details={"recipient": task.recipient_key, "task": task.action, "by": by},
    )


async def acknowledge_by_reply(
    desk: Desk, session: AsyncSession, task: RecipientTask, sender: str | None
) -> bool:
    """A reply to a task's mail: from the address we wrote to, it acknowledges the task.

    Returns:
        Whether it did; a reply from anyone else is audited and changes nothing.
    """
    ref = reference_of(task.case_id)
    same = bool(sender and task.contact and sender.strip().lower() == task.contact.lower())
    if not same:
        await audit.append(
            session,
            action="recipient_reply_refused",
            actor="system",
            case_ref=ref,
            details={"recipient": task.recipient_key, "why": "not_from_the_recipient"},
        )
        return False
    if task.status in (TaskStatus.ACKNOWLEDGED, TaskStatus.DONE_BY_HAND):
        return True
    await _acknowledge(
        session, task, by="reply", actor=f"recipient:{task.recipient_key}", now=utcnow()
    )
    if desk.slack_enabled:
        await store.add_outbox(
            session,
            None,
            [slack_item("case_card", case=ref)],
            domain=desk.settings.own_domain,
        )
    return True


async def mark_done(desk: Desk, reference: str, key: str, actor: str, note: str = "") -> str:
    """Staff told a recipient by hand (or settled a task another way): audited.

    Raises:
        CaseNotFound: no such case, or the case has no task for that recipient.
    """
    async with desk.sessions() as session, session.begin():
        case = await store.get_case(session, reference)
        task = await store.get_recipient_task(session, case.id or 0, key)
        if task is None:
            raise CaseNotFound(f"{case.reference} has no recipient task {key!r}")
        if task.status in (TaskStatus.ACKNOWLEDGED, TaskStatus.DONE_BY_HAND):
            return f"{case.reference}: {task.recipient_name} was already {task.status}"
        task.status, task.actor = TaskStatus.DONE_BY_HAND, actor[:128]
        task.acknowledged_at, task.acknowledged_by = utcnow(), "staff"
        await store.save_recipient_task(session, task)
        await audit.append(
            session,
            action="recipient_task_done_by_hand",
            actor=actor,
            case_ref=case.reference,
            details={"recipient": task.recipient_key, "task": task.action, "note": bool(note)},
        )
        if desk.slack_enabled:
            await store.add_outbox(
                session,
                case,
                [slack_item("case_card", case=case.reference)],
                domain=desk.settings.own_domain,
            )
    return f"{case.reference}: {task.recipient_name} marked done by hand"


async def flag_overdue(desk: Desk, now: datetime | None = None) -> int:
    """Tasks past their answer date become `overdue`, audited, and staff are told in Slack."""
    now = now or utcnow()
    async with desk.sessions() as session, session.begin():
        tasks = await store.overdue_recipient_tasks(session, now)
        for task in tasks:
            task.status = TaskStatus.OVERDUE
            await store.save_recipient_task(session, task)
            ref = reference_of(task.case_id)
            await audit.append(
                session,
                action="recipient_task_overdue",
                actor="system",
                case_ref=ref,
                details={"recipient": task.recipient_key, "task": task.action},
            )
            if desk.slack_enabled:
                await store.add_outbox(
                    session,
                    None,
                    [
                        slack_item("thread_note", case=ref, note="recipient_overdue"),
                        slack_item("case_card", case=ref),
                    ],
                    domain=desk.settings.own_domain,
                )
    if tasks:
        log.info("recipient tasks overdue: %d", len(tasks))
    return len(tasks)


__all__ = [
    "acknowledge_by_reply",
    "flag_overdue",
    "mark_done",
    "on_delivered",
    "open_tasks",
    "recipient_tasks_for",
]
