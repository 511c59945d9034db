"""Opening cases and moving them: a transition, its audit event and its outbox rows are
written in the caller's one transaction, so either all of them land or none do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case.deadlines import due_date
from bot.case.lifecycle import Event, State, next_state
from bot.errors import CaseNotFound
from mail.threading import make_message_id
from storage import audit
from storage.errors import ConcurrentUpdateError
from storage.models import Case, Outbox, parse_reference, utcnow


@dataclass(frozen=True)
class OutboxItem:
    """A message to send once the transaction commits."""

    kind: str  # mail | slack
    template: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    message_id: str | None = None


async def open_case(
    session: AsyncSession,
    *,
    actor: str,
    channel: str,
    received_at: datetime | None = None,
    language: str | None = None,
    requester_address: str | None = None,
    subject_pseudonym: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Case:
    """Create a case in state `received` and audit it (no commit).

    Args:
        actor: who opened it (`system`, `slack:U…`, `cli:name`).
        channel: email | slack | staff.
        details: extra audit details (no raw personal data).
    """
    received = received_at or utcnow()
    case = Case(
        state=State.RECEIVED,
        channel=channel,
        received_at=received,
        due_on=due_date(received.date()),
        language=language,
        requester_address=requester_address,
        subject_pseudonym=subject_pseudonym,
    )
    session.add(case)
    await session.flush()
    await audit.append(
        session,
        action="case_received",
        actor=actor,
        case_ref=case.reference,
        details={"channel": channel, "due_on": case.due_on.isoformat(), **dict(details or {})},
    )
    return case


async def get_case(
    session: AsyncSession, reference: str | int, *, for_update: bool = False
) -> Case:
    """Load a case by `DSR-n` or id.

    Raises:
        CaseNotFound: no such case.
    """
    try:
        case_id = reference if isinstance(reference, int) else parse_reference(reference)
    except ValueError as exc:
        raise CaseNotFound(str(exc)) from None
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = (await session.exec(stmt)).first()
    if case is None:
        raise CaseNotFound(f"no case DSR-{case_id}; `dsr cases list` shows the open ones")
    return case


async def transition(
    session: AsyncSession,
    case: Case,
    event: Event,
    *,
    actor: str,
    details: Mapping[str, Any] | None = None,
    outbox: Sequence[OutboxItem] = (),
    changes: Mapping[str, Any] | None = None,
    domain: str = "dsr.invalid",
) -> Case:
    """Move `case` by `event` inside the caller's transaction (no commit).

    The UPDATE is guarded by the case's version, so two workers can never both move it.

    Args:
        changes: other columns to set with the move (e.g. intents, extended_to).
        domain: the domain of our Message-IDs (mail rows get one when stored).

    Raises:
        IllegalTransition: the event is not allowed in the case's state.
        ConcurrentUpdateError: someone else moved the case first; reload and decide again.
    """
    old = State(case.state)
    new = next_state(case.reference, old, event)
    now = utcnow()
    values: dict[str, Any] = {"state": new.value, "version": case.version + 1, "updated_at": now}
    if new != old and new.value in {"done", "rejected", "expired"}:
        values["closed_at"] = now
    values.update(changes or {})
    result = await session.exec(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.version) == case.version)
        .values(**values)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdateError(f"{case.reference} changed while we worked on it; reload it")
    for key, value in values.items():
        setattr(case, key, value)
    await audit.append(
        session,
        action=f"case_{event.value}",
        actor=actor,
        case_ref=case.reference,
        details={"from": old.value, "to": new.value, **dict(details or {})},
    )
    await add_outbox(session, case, outbox, domain=domain)
    return case


async def add_outbox(
    session: AsyncSession, case: Case, items: Sequence[OutboxItem], *, domain: str
) -> list[Outbox]:
    """Store outbox rows for `case`; mail rows get their stable Message-ID (no commit)."""
    rows = [
        Outbox(
            case_id=case.id,
            kind=item.kind,
            template=item.template,
            payload=dict(item.payload),
            message_id=item.message_id,
        )
        for item in items
    ]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        if row.kind == "mail" and row.message_id is None:
            row.message_id = make_message_id(case.id or 0, row.id or 0, domain)
            session.add(row)
    if rows:
        await session.flush()
    return rows
