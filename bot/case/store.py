"""The case store's queries: the only SQL on cases, outbox rows, inbound records, approvals,
verification challenges and mailbox progress. Every function works in the
caller's session and transaction and never commits, so a caller composes them into one unit.

Work is claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers anyway).
A claim names the desk instance holding it; given the instances still alive, a claim whose owner
died is taken over at once instead of after its lease.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, delete, func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case.messages import OutboxItem
from bot.errors import CaseNotFound
from mail.threading import make_message_id
from storage.errors import ConcurrentUpdateError, SealError
from storage.models import (
    Approval,
    Case,
    CaseState,
    DeskInstance,
    InboundMessage,
    MailboxState,
    Outbox,
    OutboxStatus,
    RecipientTask,
    RecordKind,
    TaskStatus,
    TrainingLabel,
    VerificationChallenge,
    parse_reference,
    reference_of,
    utcnow,
)
from storage.sealing import lookup_hash

# -- cases ----------------------------------------------------------------------------------


async def insert_case(session: AsyncSession, case: Case) -> Case:
    """Store a new case and give it its id (no commit)."""
    session.add(case)
    await session.flush()
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
    try:
        case = (await session.exec(stmt)).first()
    except SealError as exc:
        raise exc.of_case(reference_of(case_id)) from None
    if case is None:
        raise CaseNotFound(f"no case DSR-{case_id}; `dsr cases list` shows the open ones")
    return case


async def save_case(session: AsyncSession, case: Case) -> None:
    """Write the changed columns of a case loaded in this session (no commit)."""
    session.add(case)
    await session.flush()


async def apply_move(session: AsyncSession, case: Case, values: Mapping[str, Any]) -> None:
    """Write a transition's columns, guarded by the case's version (no commit).

    Raises:
        ConcurrentUpdateError: someone else moved the case first; reload it and decide again.
    """
    if "next_action_at" in values:  # the step that held the claim is over
        values = {**values, "claimed_by": None}
    result = await session.exec(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.version) == case.version)
        .values(**values)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdateError(f"{case.reference} changed while we worked on it; reload it")
    for key, value in values.items():
        setattr(case, key, value)


async def list_cases(
    session: AsyncSession,
    *,
    states: Sequence[CaseState] | None = None,
    due_from: date | None = None,
    due_until: date | None = None,
) -> list[Case]:
    """Cases by due date, then id; optionally only some states or a due-date window."""
    stmt = select(Case).order_by(col(Case.due_on), col(Case.id))
    if states is not None:
        stmt = stmt.where(col(Case.state).in_(list(states)))
    if due_from is not None:
        stmt = stmt.where(col(Case.due_on) >= due_from)
    if due_until is not None:
        stmt = stmt.where(col(Case.due_on) <= due_until)
    return list((await session.exec(stmt)).all())


async def claim_due_cases(
    session: AsyncSession,
    states: Sequence[CaseState],
    *,
    now: datetime,
    lease_until: datetime,
    limit: int,
    worker: str | None = None,
    alive: Collection[str] | None = None,
) -> list[int]:
    """Lease up to `limit` cases in `states` whose next action is due to `worker`; with
    `alive` (the instances still running), also those claimed by an instance not among them.
    Returns their ids."""
    due = col(Case.next_action_at) <= now
    if alive is not None:
        orphaned = and_(col(Case.claimed_by).is_not(None), col(Case.claimed_by).not_in(alive))
        due = or_(due, orphaned)
    stmt = (
        select(Case.id)
        .where(due, col(Case.state).in_(list(states)))
        .order_by(col(Case.next_action_at), col(Case.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [i for i in (await session.exec(stmt)).all() if i is not None]
    if ids:
        await session.exec(
            update(Case)
            .where(col(Case.id).in_(ids))
            .values(next_action_at=lease_until, claimed_by=worker)
        )
    return ids


async def release_case(
    session: AsyncSession, case_id: int, worker: str | None, *, due_at: datetime | None = None
) -> None:
    """Drop `worker`'s claim on a case whose step ended without a move: the lease stays, or,
    with `due_at` (a step the database cancelled), the case is due again then."""
    values: dict[str, Any] = {"claimed_by": None}
    if due_at is not None:
        values["next_action_at"] = due_at
    await session.exec(
        update(Case)
        .where(
            col(Case.id) == case_id,
            col(Case.claimed_by).is_(None) if worker is None else col(Case.claimed_by) == worker,
        )
        .values(**values)
    )


async def claim_card(session: AsyncSession, case: Case, expected: str | None, marker: str) -> bool:
    """Set the card marker if the card is still as `expected` (so only one process posts it)."""
    guard = col(Case.slack_ts).is_(None) if expected is None else col(Case.slack_ts) == expected
    result = await session.exec(
        update(Case).where(col(Case.id) == case.id, guard).values(slack_ts=marker)
    )
    return bool(result.rowcount == 1)


async def set_card(
    session: AsyncSession, case: Case, marker: str, channel: str | None, ts: str | None
) -> None:
    """Record where the card was posted, if this process still holds the marker."""
    await session.exec(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.slack_ts) == marker)
        .values(slack_channel=channel, slack_ts=ts)
    )


# -- approvals ------------------------------------------------------------------------------


async def approvers(session: AsyncSession, case: Case) -> set[str]:
    """Who approved the case in its current round."""
    stmt = select(Approval.actor).where(
        Approval.case_id == case.id,
        Approval.decision == "approve",
        Approval.round == case.round,
    )
    return set((await session.exec(stmt)).all())


# -- verification challenges ---------------------------------------------------------------


async def add_challenge(session: AsyncSession, challenge: VerificationChallenge) -> None:
    """Store a new challenge (no commit)."""
    session.add(challenge)
    await session.flush()


async def save_challenge(session: AsyncSession, challenge: VerificationChallenge) -> None:
    """Write a challenge's changed columns (an attempt, its use or revocation; no commit)."""
    session.add(challenge)
    await session.flush()


async def open_challenges(session: AsyncSession, case_id: int) -> list[VerificationChallenge]:
    """Challenges of a case that may still be answered, oldest first."""
    stmt = (
        select(VerificationChallenge)
        .where(
            VerificationChallenge.case_id == case_id,
            col(VerificationChallenge.used_at).is_(None),
            col(VerificationChallenge.revoked_at).is_(None),
        )
        .order_by(col(VerificationChallenge.id))
    )
    return list((await session.exec(stmt)).all())


async def case_challenges(session: AsyncSession, case_id: int) -> list[VerificationChallenge]:
    """Every challenge of a case, answered or not, oldest first."""
    stmt = (
        select(VerificationChallenge)
        .where(VerificationChallenge.case_id == case_id)
        .order_by(col(VerificationChallenge.id))
    )
    return list((await session.exec(stmt)).all())


async def challenge_by_code(
    session: AsyncSession, sent_to: str, code_hashes: Sequence[str], *, now: datetime
) -> VerificationChallenge | None:
    """The open, unexpired challenge sent to `sent_to` (an address key) whose code hash is one
    of `code_hashes`, newest first (a fresh mail that carries a code finds its case by it)."""
    if not code_hashes:
        return None
    stmt = (
        select(VerificationChallenge)
        .where(
            VerificationChallenge.sent_to_pseudonym == sent_to,
            col(VerificationChallenge.code_hash).in_(list(code_hashes)),
            col(VerificationChallenge.used_at).is_(None),
            col(VerificationChallenge.revoked_at).is_(None),
            col(VerificationChallenge.expires_at) > now,
        )
        .order_by(col(VerificationChallenge.id).desc())
    )
    return (await session.exec(stmt)).first()


async def challenges_sent_since(session: AsyncSession, sent_to: str, since: datetime) -> int:
    """How many challenges went to `sent_to` (an address key) since `since`, for any case."""
    stmt = (
        select(func.count())
        .select_from(VerificationChallenge)
        .where(
            VerificationChallenge.sent_to_pseudonym == sent_to,
            col(VerificationChallenge.created_at) >= since,
        )
    )
    return int((await session.exec(stmt)).one())


async def open_challenge_intents(
    session: AsyncSession, sent_to: str, *, now: datetime, other_than: int
) -> list[list[str]]:
    """The intents of other cases still waiting on an open challenge to `sent_to`."""
    stmt = (
        select(Case.intents)
        .join(VerificationChallenge, col(VerificationChallenge.case_id) == col(Case.id))
        .where(
            VerificationChallenge.sent_to_pseudonym == sent_to,
            col(VerificationChallenge.used_at).is_(None),
            col(VerificationChallenge.revoked_at).is_(None),
            col(VerificationChallenge.expires_at) > now,
            col(Case.state) == CaseState.AWAITING_VERIFICATION,
            col(Case.id) != other_than,
        )
    )
    return [list(i) for i in (await session.exec(stmt)).all()]


async def requester_cases(
    session: AsyncSession, sender_pseudonym: str, *, since: datetime
) -> list[Case]:
    """Cases whose requests came from the sender with this pseudonym (the requester's address
    is sealed, so the request records' pseudonyms find them), received since `since` or still
    open, oldest first (repeats and Art. 12(5) streams)."""
    asked = select(InboundMessage.case_id).where(
        InboundMessage.sender_pseudonym == sender_pseudonym,
        InboundMessage.kind == RecordKind.REQUEST,
        col(InboundMessage.case_id).is_not(None),
    )
    stmt = (
        select(Case)
        .where(
            col(Case.id).in_(asked),
            or_(col(Case.received_at) >= since, col(Case.state).in_(_open_states())),
        )
        .order_by(col(Case.id))
    )
    return list((await session.exec(stmt)).all())


async def record_approval(
    session: AsyncSession, case: Case, actor: str, decision: str, reason: str | None = None
) -> None:
    """Store one staff decision (approve | reject) in the case's current round (no commit)."""
    session.add(
        Approval(
            case_id=case.id or 0,
            actor=actor,
            decision=decision,
            reason=reason,
            round=case.round,
        )
    )
    await session.flush()


async def add_training_label(session: AsyncSession, label: TrainingLabel) -> None:
    """Store a staff correction of the classifier (no commit)."""
    session.add(label)
    await session.flush()


# -- outbox ---------------------------------------------------------------------------------


async def add_outbox(
    session: AsyncSession,
    case: Case | None,
    items: Sequence[OutboxItem],
    *,
    domain: str,
    not_before: datetime | None = None,
) -> list[Outbox]:
    """Store outbox rows (of `case`, or of none); mail rows get a stable Message-ID (no commit).

    Args:
        not_before: send no earlier than this (default: at once).
    """
    case_id = case.id if case is not None else None
    rows = [
        Outbox(
            case_id=case_id,
            kind=item.kind,
            template=item.template,
            payload=dict(item.payload),
            message_id=item.message_id,
            next_attempt_at=not_before or utcnow(),
        )
        for item in items
    ]
    session.add_all(rows)
    await session.flush()
    for row in rows:
        if row.kind == "mail" and row.message_id is None:
            row.message_id = make_message_id(case_id or 0, row.id or 0, domain)
            session.add(row)
    if rows:
        await session.flush()
    return rows


async def save_outbox_row(session: AsyncSession, row: Outbox) -> None:
    """Write an outbox row's changed columns (payload, status, attempts; no commit)."""
    session.add(row)
    await session.flush()


async def outbox_of_case(session: AsyncSession, case_id: int) -> list[Outbox]:
    """A case's outbox rows, oldest first."""
    stmt = select(Outbox).where(Outbox.case_id == case_id).order_by(col(Outbox.id))
    return list((await session.exec(stmt)).all())


async def outbox_key_taken(session: AsyncSession, message_id: str) -> bool:
    """True when an outbox row with this Message-ID (or key) exists."""
    stmt = select(Outbox.id).where(Outbox.message_id == message_id)
    return (await session.exec(stmt)).first() is not None


async def claim_outbox(
    session: AsyncSession,
    kinds: Sequence[str],
    *,
    now: datetime,
    lease_until: datetime,
    worker: str,
    limit: int,
    alive: Collection[str] | None = None,
) -> list[Outbox]:
    """Lease up to `limit` due rows of `kinds` to `worker` (one attempt each); with `alive`,
    also rows being sent by an instance not among them (it died mid-send)."""
    due = col(Outbox.next_attempt_at) <= now
    if alive is not None:
        orphaned = and_(
            col(Outbox.status) == OutboxStatus.SENDING,
            col(Outbox.claimed_by).is_not(None),
            col(Outbox.claimed_by).not_in(alive),
        )
        due = or_(due, orphaned)
    stmt = (
        select(Outbox)
        .where(
            or_(
                col(Outbox.status) == OutboxStatus.PENDING,
                col(Outbox.status) == OutboxStatus.SENDING,
            ),
            due,
            col(Outbox.kind).in_(list(kinds)),
        )
        .order_by(col(Outbox.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list((await session.exec(stmt)).all())
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.claimed_by = worker
        row.attempts += 1
        row.next_attempt_at = lease_until
        session.add(row)
    return rows


async def held_outbox_row(session: AsyncSession, row_id: int | None, worker: str) -> Outbox | None:
    """The row, locked, if `worker` still holds its lease; None when someone re-claimed it."""
    current = await session.get(Outbox, row_id, with_for_update=True)
    if current is None or current.status != OutboxStatus.SENDING or current.claimed_by != worker:
        return None
    return current


async def get_outbox_row(
    session: AsyncSession, row_id: int, *, for_update: bool = False
) -> Outbox | None:
    """One outbox row by id (locked when `for_update`), or None."""
    return await session.get(Outbox, row_id, with_for_update=for_update or None)


async def undelivered_outbox(
    session: AsyncSession,
    *,
    kinds: Sequence[str] = ("mail",),
    created_before: datetime | None = None,
    case_id: int | None = None,
) -> list[Outbox]:
    """Rows not yet accepted (pending, being sent, or failed), oldest first."""
    stmt = select(Outbox).where(
        col(Outbox.status) != OutboxStatus.SENT, col(Outbox.kind).in_(list(kinds))
    )
    if created_before is not None:
        stmt = stmt.where(col(Outbox.created_at) < created_before)
    if case_id is not None:
        stmt = stmt.where(col(Outbox.case_id) == case_id)
    return list((await session.exec(stmt.order_by(col(Outbox.id)))).all())


# -- recipient tasks ------------------------------------------------------------------------


async def add_recipient_task(session: AsyncSession, task: RecipientTask) -> bool:
    """Store a task unless the case already has one for this recipient and action (a re-run
    after a crash); returns whether it was added (no commit)."""
    stmt = select(RecipientTask.id).where(
        RecipientTask.case_id == task.case_id,
        RecipientTask.recipient_key == task.recipient_key,
        RecipientTask.action == task.action,
    )
    if (await session.exec(stmt)).first() is not None:
        return False
    session.add(task)
    await session.flush()
    return True


async def save_recipient_task(session: AsyncSession, task: RecipientTask) -> None:
    """Write a task's changed columns (no commit)."""
    session.add(task)
    await session.flush()


async def recipient_tasks(session: AsyncSession, case_id: int) -> list[RecipientTask]:
    """A case's recipient tasks, oldest first."""
    stmt = (
        select(RecipientTask)
        .where(RecipientTask.case_id == case_id)
        .order_by(col(RecipientTask.id))
    )
    return list((await session.exec(stmt)).all())


async def recipient_task_of_outbox(
    session: AsyncSession, outbox_id: int | None
) -> RecipientTask | None:
    """The task an outbox row carries, locked, or None."""
    if outbox_id is None:
        return None
    stmt = select(RecipientTask).where(RecipientTask.outbox_id == outbox_id).with_for_update()
    return (await session.exec(stmt)).first()


async def recipient_task_by_message_ids(
    session: AsyncSession, message_ids: Sequence[str]
) -> RecipientTask | None:
    """The task whose mail one of these Message-IDs is (a recipient's reply refers to it)."""
    if not message_ids:
        return None
    stmt = (
        select(RecipientTask)
        .where(col(RecipientTask.message_id).in_(list(message_ids)))
        .with_for_update()
    )
    return (await session.exec(stmt)).first()


async def get_recipient_task(
    session: AsyncSession, case_id: int, recipient_key: str
) -> RecipientTask | None:
    """A case's task for one recipient (the newest, if several actions), locked."""
    stmt = (
        select(RecipientTask)
        .where(RecipientTask.case_id == case_id, RecipientTask.recipient_key == recipient_key)
        .order_by(col(RecipientTask.id).desc())
        .with_for_update()
    )
    return (await session.exec(stmt)).first()


async def overdue_recipient_tasks(
    session: AsyncSession, now: datetime, limit: int = 100
) -> list[RecipientTask]:
    """Tasks sent (or queued) whose answer is past due and not yet flagged, locked."""
    stmt = (
        select(RecipientTask)
        .where(
            col(RecipientTask.status).in_([TaskStatus.SENT, TaskStatus.QUEUED]),
            col(RecipientTask.due_at) < now,
        )
        .order_by(col(RecipientTask.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.exec(stmt)).all())


async def open_recipient_task_for_outbox(session: AsyncSession, outbox_id: int | None) -> bool:
    """True when the row carries a task still waiting for its answer (its retries never end)."""
    if outbox_id is None:
        return False
    stmt = select(RecipientTask.id).where(
        RecipientTask.outbox_id == outbox_id,
        col(RecipientTask.status).in_([TaskStatus.QUEUED, TaskStatus.SENT, TaskStatus.OVERDUE]),
    )
    return (await session.exec(stmt)).first() is not None


# -- inbound records ------------------------------------------------------------------------


async def insert_records(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]], *, dialect: str
) -> None:
    """Insert raw records; one whose Message-ID is already stored is skipped by the database."""
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = maker(InboundMessage).on_conflict_do_nothing(index_elements=["message_id"])
    await session.exec(stmt, params=[dict(r) for r in rows])


async def stored_digests(session: AsyncSession, message_ids: Sequence[str]) -> dict[str, str]:
    """Message-ID -> SHA-256 of the records stored under these Message-IDs (the column holds
    only the keyed hash of each Message-ID, so the answer is mapped back to the ones asked)."""
    stmt = select(InboundMessage.message_id, InboundMessage.sha256).where(
        col(InboundMessage.message_id).in_(list(message_ids))
    )
    found = dict((await session.exec(stmt)).all())
    return {m: found[h] for m in message_ids if (h := lookup_hash(m)) in found}


async def find_record(session: AsyncSession, message_id: str) -> InboundMessage | None:
    """The record stored under a Message-ID."""
    stmt = select(InboundMessage).where(InboundMessage.message_id == message_id)
    return (await session.exec(stmt)).first()


async def get_record(session: AsyncSession, record_id: int) -> InboundMessage | None:
    """One record by number."""
    return await session.get(InboundMessage, record_id)


async def pending_record_ids(session: AsyncSession, limit: int) -> list[int]:
    """The oldest records waiting for stage two."""
    stmt = (
        select(InboundMessage.id)
        .where(InboundMessage.kind == RecordKind.PENDING)
        .order_by(col(InboundMessage.id))
        .limit(limit)
    )
    return [int(i) for i in (await session.exec(stmt)).all() if i is not None]


async def lock_pending_record(session: AsyncSession, record_id: int) -> InboundMessage | None:
    """Lock a record for processing; None when it is gone, done, or locked by another process."""
    stmt = (
        select(InboundMessage)
        .where(InboundMessage.id == record_id, InboundMessage.kind == RecordKind.PENDING)
        .with_for_update(skip_locked=True)
    )
    return (await session.exec(stmt)).first()


async def stamp_record(
    session: AsyncSession, record_id: int | None, kind: RecordKind, **fields: Any
) -> bool:
    """Give a pending record its kind (and other columns); False when it is no longer pending."""
    result = await session.exec(
        update(InboundMessage)
        .where(col(InboundMessage.id) == record_id, col(InboundMessage.kind) == RecordKind.PENDING)
        .values(kind=kind, **fields)
    )
    return bool(result.rowcount == 1)


async def link_record(session: AsyncSession, record_id: int | None, case_id: int | None) -> None:
    """Tie a record to the case it opened."""
    await session.exec(
        update(InboundMessage).where(col(InboundMessage.id) == record_id).values(case_id=case_id)
    )


async def requeue_record(session: AsyncSession, record_id: int) -> None:
    """Put a record back to pending (a staff retry)."""
    await session.exec(
        update(InboundMessage)
        .where(col(InboundMessage.id) == record_id)
        .values(kind=RecordKind.PENDING, error=None)
    )


async def records_of_kinds(
    session: AsyncSession, kinds: Sequence[RecordKind], limit: int
) -> list[InboundMessage]:
    """Records of the given kinds, newest first."""
    stmt = (
        select(InboundMessage)
        .where(col(InboundMessage.kind).in_(list(kinds)))
        .order_by(col(InboundMessage.id).desc())
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def count_records(session: AsyncSession, kinds: Sequence[RecordKind]) -> dict[str, int]:
    """How many records there are of each of `kinds` (absent kinds are left out)."""
    stmt = (
        select(InboundMessage.kind, func.count())
        .where(col(InboundMessage.kind).in_(list(kinds)))
        .group_by(InboundMessage.kind)
    )
    return {str(k): int(n) for k, n in (await session.exec(stmt)).all()}


async def first_request_record(session: AsyncSession, case_id: int | None) -> InboundMessage | None:
    """The message that opened a case (None for a case opened by staff without one)."""
    stmt = (
        select(InboundMessage)
        .where(InboundMessage.case_id == case_id, InboundMessage.kind == RecordKind.REQUEST)
        .order_by(col(InboundMessage.id))
    )
    return (await session.exec(stmt)).first()


async def opening_record(session: AsyncSession, case_id: int | None) -> InboundMessage | None:
    """The mail or staff note that opened a case, whichever channel it came by."""
    stmt = (
        select(InboundMessage)
        .where(
            InboundMessage.case_id == case_id,
            col(InboundMessage.kind).in_([RecordKind.REQUEST, RecordKind.STAFF]),
        )
        .order_by(col(InboundMessage.id))
    )
    return (await session.exec(stmt)).first()


async def case_of_record_key(session: AsyncSession, message_id: str) -> int | None:
    """The case a record (by Message-ID or key) belongs to, if it is stored."""
    stmt = select(InboundMessage.case_id).where(InboundMessage.message_id == message_id)
    return (await session.exec(stmt)).first()


async def add_record(session: AsyncSession, record: InboundMessage) -> InboundMessage:
    """Store one record now, claiming its unique Message-ID (no commit).

    Raises:
        sqlalchemy.exc.IntegrityError: a record with that Message-ID exists.
    """
    session.add(record)
    await session.flush()
    return record


# -- mailbox progress -----------------------------------------------------------------------


async def mailbox_progress(session: AsyncSession, mailbox: str) -> tuple[int, int] | None:
    """(UIDVALIDITY, last UID handled) of a mailbox, or None before the first run."""
    row = await session.get(MailboxState, mailbox)
    return (row.uidvalidity, row.last_uid) if row else None


async def save_mailbox_progress(
    session: AsyncSession, mailbox: str, uidvalidity: int, last_uid: int
) -> None:
    """Remember how far a mailbox was read (no commit)."""
    row = await session.get(MailboxState, mailbox)
    if row is None:
        row = MailboxState(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid)
    else:
        row.uidvalidity, row.last_uid, row.updated_at = uidvalidity, last_uid, utcnow()
    session.add(row)


# -- desk instances (claim owners) -----------------------------------------------------------


async def beat(session: AsyncSession, instance: DeskInstance) -> None:
    """Register `instance` or refresh its heartbeat."""
    current = await session.get(DeskInstance, instance.id)
    if current is None:
        session.add(instance)
    else:
        current.heartbeat_at = instance.heartbeat_at
        session.add(current)
    await session.flush()


async def desk_instances(session: AsyncSession) -> list[DeskInstance]:
    """Every registered desk instance."""
    return list((await session.exec(select(DeskInstance))).all())


async def forget_instances(session: AsyncSession, ids: Collection[str]) -> None:
    """Remove instances (a clean shutdown, or the dead once their claims are taken)."""
    if ids:
        await session.exec(delete(DeskInstance).where(col(DeskInstance.id).in_(list(ids))))


# -- auditor pages, month report and metrics (read-only) ------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    """The auditor's filters on the case list; None means "any"."""

    state: CaseState | None = None
    intent: str | None = None
    channel: str | None = None
    language: str | None = None
    received_from: date | None = None
    received_until: date | None = None  # inclusive
    overdue_on: date | None = None  # only open cases whose effective due date is before this


def _open_states() -> list[CaseState]:
    from bot.case.lifecycle import OPEN_STATES  # lifecycle imports this module

    return list(OPEN_STATES)


def _filtered(stmt: Any, f: CaseFilter) -> Any:
    if f.state is not None:
        stmt = stmt.where(col(Case.state) == f.state)
    if f.intent:
        # the JSON list as text holds '"access"' for intent access, on both databases
        stmt = stmt.where(cast(col(Case.intents), String).like(f'%"{f.intent}"%'))
    if f.channel:
        stmt = stmt.where(col(Case.channel) == f.channel)
    if f.language:
        stmt = stmt.where(col(Case.language) == f.language)
    if f.received_from is not None:
        stmt = stmt.where(col(Case.received_at) >= _midnight(f.received_from))
    if f.received_until is not None:
        stmt = stmt.where(col(Case.received_at) < _midnight(f.received_until + timedelta(days=1)))
    if f.overdue_on is not None:
        stmt = stmt.where(
            col(Case.state).in_(_open_states()),
            func.coalesce(col(Case.extended_to), col(Case.due_on)) < f.overdue_on,
        )
    return stmt


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def page_cases(
    session: AsyncSession, f: CaseFilter, *, offset: int, limit: int
) -> tuple[list[Case], int]:
    """One page of cases matching `f`, newest first, and how many match in all."""
    total = (await session.exec(_filtered(select(func.count()).select_from(Case), f))).one()
    stmt = _filtered(select(Case), f).order_by(col(Case.id).desc()).offset(offset).limit(limit)
    return list((await session.exec(stmt)).all()), int(total)


async def cases_received_between(session: AsyncSession, start: date, end: date) -> list[Case]:
    """Cases received in [start, end) (the month report)."""
    stmt = (
        select(Case)
        .where(col(Case.received_at) >= _midnight(start), col(Case.received_at) < _midnight(end))
        .order_by(col(Case.id))
    )
    return list((await session.exec(stmt)).all())


@dataclass(frozen=True)
class DeskGauges:
    """What the operators' metrics read from the case store in one go."""

    cases_by_state: dict[str, int]
    outbox_backlog: dict[str, int]
    oldest_unsent_mail: datetime | None
    mailbox_progress: dict[str, datetime]
    oldest_open_case: datetime | None
    nearest_due: date | None
    confidences: list[float]


async def desk_gauges(session: AsyncSession) -> DeskGauges:
    """Counts and ages for `/metrics` (a few aggregate queries; confidences of open cases)."""
    by_state = await session.exec(select(Case.state, func.count()).group_by(col(Case.state)))
    waiting = [OutboxStatus.PENDING, OutboxStatus.SENDING]
    backlog = await session.exec(
        select(Outbox.kind, func.count())
        .where(col(Outbox.status).in_(waiting))
        .group_by(col(Outbox.kind))
    )
    oldest_mail = (
        await session.exec(
            select(func.min(Outbox.created_at)).where(
                col(Outbox.status).in_(waiting), col(Outbox.kind) == "mail"
            )
        )
    ).one()
    mailboxes = await session.exec(select(MailboxState.mailbox, MailboxState.updated_at))
    open_states = _open_states()
    oldest_open, nearest = (
        await session.exec(
            select(
                func.min(Case.received_at),
                func.min(func.coalesce(col(Case.extended_to), col(Case.due_on))),
            ).where(col(Case.state).in_(open_states))
        )
    ).one()
    confidences = await session.exec(
        select(Case.confidence).where(col(Case.confidence).is_not(None))
    )
    return DeskGauges(
        cases_by_state={str(s): int(n) for s, n in by_state.all()},
        outbox_backlog={str(k): int(n) for k, n in backlog.all()},
        oldest_unsent_mail=_aware(oldest_mail),
        mailbox_progress={str(m): t for m, t in mailboxes.all() if t is not None},
        oldest_open_case=_aware(oldest_open),
        nearest_due=_as_date(nearest),
        confidences=[float(c) for c in confidences.all() if c is not None],
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])  # SQLite's MIN over a date column is text


# -- purging personal content (retention, or the subject's own erasure) ---------------------


async def purgeable_cases(
    session: AsyncSession, *, closed_before: datetime, limit: int = 100
) -> list[Case]:
    """Closed cases whose close is older than `closed_before` and not purged yet, oldest first."""
    from bot.case.lifecycle import CLOSED_STATES  # lifecycle imports this module

    stmt = (
        select(Case)
        .where(
            col(Case.state).in_(list(CLOSED_STATES)),
            col(Case.closed_at) < closed_before,
            col(Case.purged_at).is_(None),
        )
        .order_by(col(Case.closed_at), col(Case.id))
        .limit(limit)
    )
    return list((await session.exec(stmt)).all())


async def hash_requesters(session: AsyncSession, batch: int = 500) -> int:
    """Give cases written before `requester_hash` existed the keyed hash of their requester's
    address (`dsr db upgrade` runs it once); returns how many it filled."""
    filled = 0
    while True:
        stmt = (
            select(Case)
            .where(col(Case.requester_hash).is_(None), col(Case.requester_address).is_not(None))
            .where(col(Case.purged_at).is_(None))
            .order_by(col(Case.id))
            .limit(batch)
        )
        cases = list((await session.exec(stmt)).all())
        if not cases:
            return filled
        for case in cases:
            await session.exec(
                update(Case)
                .where(col(Case.id) == case.id)
                .values(requester_hash=case.requester_address)
            )
        filled += len(cases)


async def cases_of_subject(
    session: AsyncSession, *, pseudonyms: Collection[str], addresses: Collection[str]
) -> list[Case]:
    """Every case about a person: found by the keyed pseudonym of an address on file, or asked
    from one of their addresses (an unverified request, an opt-out); oldest first."""
    clauses = []
    if pseudonyms:
        clauses.append(col(Case.subject_pseudonym).in_(list(pseudonyms)))
    if addresses:  # the column keeps keyed hashes: each address is hashed as it is bound
        clauses.append(col(Case.requester_hash).in_(list(addresses)))
    if not clauses:
        return []
    stmt = select(Case).where(or_(*clauses)).order_by(col(Case.id))
    return list((await session.exec(stmt)).all())


@dataclass(frozen=True)
class PurgedContent:
    """What one purge removed, in counts (for the audit event: no content)."""

    records: int
    mails: int
    labels: int

    def as_details(self) -> dict[str, int]:
        """The counts as audit details."""
        return {"records": self.records, "mails": self.mails, "labels": self.labels}


async def purge_case_content(
    session: AsyncSession, case: Case, data: Mapping[str, Any], now: datetime
) -> PurgedContent:
    """Remove a case's personal content and stamp it purged, in the caller's transaction.

    Kept: the row's reference, state, intents, scores, language, channel, dates, outcome and
    `data` as given (already purged by the caller); the challenges' hashes and the keyed
    pseudonyms. Removed: inbound mail (raw and errors), the requester's address, the thread's
    Message-IDs, the extension reason, outbox payloads and answers, staff's free-text reasons
    and the training text taken from the case. Idempotent.
    """
    assert case.id is not None
    records = await session.exec(
        update(InboundMessage)
        .where(col(InboundMessage.case_id) == case.id)
        .values(raw=None, error=None, source=None)
    )
    unsent = [OutboxStatus.PENDING, OutboxStatus.SENDING]
    await session.exec(
        update(Outbox)
        .where(col(Outbox.case_id) == case.id, col(Outbox.status).in_(unsent))
        .values(status=OutboxStatus.FAILED)
    )
    mails = await session.exec(
        update(Outbox)
        .where(col(Outbox.case_id) == case.id)
        .values(payload={"purged": True}, last_error=None)
    )
    await session.exec(update(Approval).where(col(Approval.case_id) == case.id).values(reason=None))
    labels = await session.exec(delete(TrainingLabel).where(col(TrainingLabel.case_id) == case.id))
    await session.exec(
        update(Case)
        .where(col(Case.id) == case.id)
        .values(
            requester_address=None,
            requester_hash=None,
            thread_root=None,
            extension_reason=None,
            data=dict(data),
            purged_at=now,
            updated_at=now,
            version=Case.version + 1,
        )
    )
    return PurgedContent(records.rowcount or 0, mails.rowcount or 0, labels.rowcount or 0)


async def purged_between(session: AsyncSession, start: datetime, end: datetime) -> int:
    """How many cases were purged in [start, end) (the report)."""
    stmt = select(func.count()).where(col(Case.purged_at) >= start, col(Case.purged_at) < end)
    return int((await session.exec(stmt)).one())


async def purge_loose_records(session: AsyncSession, *, received_before: datetime) -> int:
    """Drop the raw text of processed mail records that belong to no case (robots, stray
    replies) and were received before the cutoff; returns how many (idempotent)."""
    result = await session.exec(
        update(InboundMessage)
        .where(
            col(InboundMessage.case_id).is_(None),
            col(InboundMessage.received_at) < received_before,
            col(InboundMessage.kind) != RecordKind.PENDING,
            or_(col(InboundMessage.raw).is_not(None), col(InboundMessage.error).is_not(None)),
        )
        .values(raw=None, error=None, source=None)
    )
    return int(result.rowcount or 0)


async def package_mails(session: AsyncSession, case_id: int) -> list[Outbox]:
    """The case's mail rows that carry attachments (access packages)."""
    rows = await outbox_of_case(session, case_id)
    return [r for r in rows if r.kind == "mail" and r.payload.get("attachments")]
