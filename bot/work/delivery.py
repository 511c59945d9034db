"""Mail that has not reached the customer yet: listing it, sending it again, and telling staff
when a mail has waited more than a day (Slack and the audit log; `dsr report` counts them).

A mail of an open case is never given up (`bot.work.outbox`); these are the staff's handles on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.case import store
from bot.case.messages import slack_item
from bot.case.report import STUCK_AFTER
from bot.work.actions import ActionResult
from bot.work.desk import Desk
from storage import audit
from storage.models import Outbox, OutboxStatus, reference_of, utcnow

__all__ = ["STUCK_AFTER", "Undelivered", "alert_stuck", "describe", "resend", "undelivered"]

_ALERTED = "stuck_alerted"


@dataclass(frozen=True)
class Undelivered:
    """One mail not yet accepted by the mail server, in staff's words (no recipient address)."""

    id: int
    case_ref: str | None
    template: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    error: str | None

    @property
    def explanation(self) -> str:
        """What is going on, in plain words."""
        return describe(self.status, self.attempts, self.error, self.next_attempt_at)


def describe(status: str, attempts: int, error: str | None, next_attempt: datetime) -> str:
    """A row's situation for staff: what happened and what happens next (pure)."""
    why = f" (last answer: {error.split(': ', 1)[-1][:200]})" if error else ""
    if status == OutboxStatus.FAILED:
        return (
            f"the mail server refused it for good after {attempts} attempt(s){why}; "
            "fix the cause, then `dsr outbox retry`"
        )
    if attempts == 0:
        return "waiting to be sent"
    when = next_attempt.strftime("%Y-%m-%d %H:%M UTC")
    return f"not accepted yet after {attempts} attempt(s){why}; next attempt {when}"


def _view(row: Outbox) -> Undelivered:
    return Undelivered(
        id=row.id or 0,
        case_ref=reference_of(row.case_id) if row.case_id else None,
        template=row.template,
        status=str(row.status),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        error=row.last_error,
    )


async def undelivered(desk: Desk, *, case_id: int | None = None) -> list[Undelivered]:
    """Every mail not yet accepted (of one case, or all), oldest first."""
    async with desk.sessions() as session:
        rows = await store.undelivered_outbox(session, case_id=case_id)
    return [_view(r) for r in rows]


async def resend(desk: Desk, row_id: int, actor: str) -> ActionResult:
    """Send a mail again now (a failed one, or a pending one without waiting); audited.

    Returns:
        The result; `done` is False when there is nothing to resend (sent already, or no row).
    """
    async with desk.sessions() as session, session.begin():
        row = await store.get_outbox_row(session, row_id, for_update=True)
        if row is None or row.kind != "mail":
            return ActionResult("-", "-", f"no outgoing mail {row_id}", done=False)
        ref = reference_of(row.case_id) if row.case_id else "-"
        if row.payload.get("purged"):
            return ActionResult(
                ref, str(row.status), f"mail {row_id} was purged with its case", done=False
            )
        if row.status in (OutboxStatus.SENT, OutboxStatus.SENDING):
            what = "was accepted already" if row.status == OutboxStatus.SENT else "is being sent"
            return ActionResult(ref, str(row.status), f"mail {row_id} {what}", done=False)
        previous = str(row.status)
        row.status, row.next_attempt_at, row.claimed_by = OutboxStatus.PENDING, utcnow(), None
        await store.save_outbox_row(session, row)
        await audit.append(
            session,
            action="mail_resend",
            actor=actor,
            case_ref=None if ref == "-" else ref,
            details={"outbox_id": row_id, "template": row.template, "was": previous},
        )
        return ActionResult(ref, str(row.status), f"mail {row_id} ({row.template}) queued again")


async def alert_stuck(desk: Desk, now: datetime | None = None) -> int:
    """Tell staff once about each mail that has waited more than `STUCK_AFTER`: an audit event
    and, with Slack, a line in the card's thread. Returns how many were reported."""
    now = now or utcnow()
    async with desk.sessions() as session, session.begin():
        rows = await store.undelivered_outbox(session, created_before=now - STUCK_AFTER)
        fresh = [r for r in rows if not r.payload.get(_ALERTED)]
        for row in fresh:
            ref = reference_of(row.case_id) if row.case_id else None
            view = _view(row)
            await audit.append(
                session,
                action="mail_delayed",
                actor="system",
                case_ref=ref,
                details={"outbox_id": row.id, "template": row.template, "attempts": row.attempts},
            )
            row.payload = {**row.payload, _ALERTED: now.isoformat()}
            await store.save_outbox_row(session, row)
            if desk.slack_enabled and ref is not None:
                await store.add_outbox(
                    session,
                    None,
                    [
                        slack_item(
                            "mail_stuck",
                            case=ref,
                            outbox=row.id,
                            mail=row.template,
                            hours=int((now - row.created_at).total_seconds() // 3600),
                            explanation=view.explanation,
                        )
                    ],
                    domain=desk.settings.own_domain,
                )
    return len(fresh)
