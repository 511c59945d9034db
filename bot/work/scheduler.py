"""Time-driven work: processing recorded mail, advancing due cases, reminders, retention sweeps."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import date, timedelta

from bot.case import store
from bot.case.data import case_data
from bot.case.lifecycle import OPEN_STATES, Event, transition
from bot.case.messages import slack_item
from bot.case.store import get_case
from bot.work.delivery import alert_stuck
from bot.work.desk import Desk
from bot.work.intake import process_recorded
from bot.work.pipeline import advance_due
from bot.work.recipients import flag_overdue
from storage.errors import ConcurrentUpdateError
from storage.models import Case

log = logging.getLogger(__name__)


def reminder_due(case: Case, today: date, days_before: int) -> bool:
    """True when the case is due within `days_before` days (or overdue) and was not reminded
    for this due date yet. Pure."""
    due = case.effective_due
    return (due - today).days <= days_before and case_data(case).reminded_for != due.isoformat()


async def send_reminders(desk: Desk, today: date | None = None) -> int:
    """Audit a reminder (and post it to Slack) once per due date for cases close to it."""
    today = today or date.today()
    horizon = today + timedelta(days=desk.settings.reminder_days)
    async with desk.sessions() as session:
        near = await store.list_cases(session, states=list(OPEN_STATES), due_until=horizon)
        candidates = [c for c in near if reminder_due(c, today, desk.settings.reminder_days)]
    sent = 0
    for case in candidates:
        due = case.effective_due
        try:
            async with desk.sessions() as session, session.begin():
                current = await get_case(session, case.id or 0)
                await transition(
                    session,
                    current,
                    Event.REMIND,
                    actor="system",
                    details={"due": due.isoformat(), "days_left": (due - today).days},
                    changes={
                        "data": case_data(current).with_(reminded_for=due.isoformat()).to_json()
                    },
                    outbox=[
                        slack_item("reminder", case=case.reference, days_left=(due - today).days)
                    ]
                    if desk.slack_enabled
                    else [],
                    domain=desk.settings.own_domain,
                )
            sent += 1
        except ConcurrentUpdateError:
            continue
    return sent


async def run_inbound(desk: Desk, poll: float = 1.0) -> None:
    """Process recorded messages until cancelled: at once when this process's intake recorded
    some, otherwise every `poll` seconds (another process may have recorded them)."""
    while True:
        desk.inbound_ready.clear()
        if await process_recorded(desk) == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(desk.inbound_ready.wait(), poll)


async def run_pipeline(desk: Desk, idle: float = 0.5) -> None:
    """Advance due cases until cancelled."""
    while True:
        if await advance_due(desk) == 0:
            await asyncio.sleep(idle)


async def run_housekeeping(desk: Desk, every: float = 600.0) -> None:
    """Reminders and delayed-mail alerts every `every` seconds; the retention sweep hourly."""
    last_sweep = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await send_reminders(desk)
        await alert_stuck(desk)
        await flag_overdue(desk)  # recipients that did not answer in time (Art. 19)
        if loop.time() - last_sweep >= 3600:
            result = await desk.executor.sweep()
            last_sweep = loop.time()
            log.info("retention sweep: %s tables touched", len(result.counts))
        await asyncio.sleep(every)
