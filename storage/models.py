"""SQLModel tables of the case store: cases, inbound mail, challenges, approvals, outbox, labels.

The audit log lives in `storage/audit.py` (its own table, written only through `append`).
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum, auto
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, SQLModel

from storage.sealing import LookupHash, SealedBytes, SealedJSON, SealedText


class CaseState(StrEnum):
    """Where a case is (the moves between them are `bot.case.lifecycle`'s table)."""

    RECEIVED = auto()
    AWAITING_VERIFICATION = auto()
    AWAITING_APPROVAL = auto()
    APPROVED = auto()
    DONE = auto()
    NEEDS_TRIAGE = auto()
    REJECTED = auto()
    EXPIRED = auto()
    FAILED = auto()


class OutboxStatus(StrEnum):
    """Where an outbox row is: waiting, leased to a sender, accepted, or given up."""

    PENDING = auto()
    SENDING = auto()
    SENT = auto()
    FAILED = auto()


class RecordKind(StrEnum):
    """What an inbound record turned out to be. `PENDING` is recorded but not yet processed;
    `UNPARSEABLE`, `OVERSIZE` and `ERROR` need a person (`dsr inbox`)."""

    PENDING = auto()
    REQUEST = auto()
    REPLY = auto()
    ROBOT = auto()
    UNPARSEABLE = auto()
    OVERSIZE = auto()
    ERROR = auto()
    STAFF = auto()


class TaskStatus(StrEnum):
    """Where a recipient task is (Art. 17(2), 19): `by_hand` waits for staff (no contact);
    `queued` is in the outbox; `sent` was accepted; `acknowledged` was answered (a reply, the
    webhook's 2xx, a callback); `overdue` had no answer in time; `done_by_hand` staff did it."""

    BY_HAND = auto()
    QUEUED = auto()
    SENT = auto()
    ACKNOWLEDGED = auto()
    OVERDUE = auto()
    DONE_BY_HAND = auto()


def _enum_column(enum: type[StrEnum], length: int, **kwargs: Any) -> Column[Any]:
    """A string column holding an enum's values (no native enum type, so no migration)."""
    kind = SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
    return Column(kind, **kwargs)


def utcnow() -> datetime:
    """The current time, timezone-aware (sqlmodel refuses naive datetimes)."""
    return datetime.now(UTC)


class Case(SQLModel, table=True):
    """One data-subject request; its state moves only through `bot.case.lifecycle`."""

    __tablename__ = "dsr_case"
    __table_args__ = (
        Index("ix_dsr_case_state_due", "state", "due_on"),
        # covers the auditors' "open and overdue" count (due date or its extension) without rows
        Index("ix_dsr_case_state_due_ext", "state", "due_on", "extended_to"),
    )

    id: int | None = Field(default=None, primary_key=True)
    state: CaseState = Field(sa_column=_enum_column(CaseState, 32, nullable=False, index=True))
    intents: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    scores: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    confidence: float | None = None
    needs_review: bool = False
    channel: str = Field(default="email", max_length=16)
    language: str | None = Field(default=None, max_length=8)
    # Where replies go. Operational data of the case store, never copied into the audit log;
    # sealed at rest (`storage.sealing`), like every column below that holds what people wrote.
    requester_address: str | None = Field(
        default=None, sa_column=Column(SealedText("dsr_case.requester_address"))
    )
    subject_pseudonym: str | None = Field(default=None, max_length=64, index=True)
    verified_by: str | None = Field(default=None, max_length=64)
    received_at: datetime = Field(default_factory=utcnow)
    due_on: date
    extended_to: date | None = None
    extension_reason: str | None = Field(
        default=None, sa_column=Column(SealedText("dsr_case.extension_reason"))
    )
    thread_root: str | None = Field(
        default=None, sa_column=Column(SealedText("dsr_case.thread_root"))
    )
    # Working data of the pipeline: identifiers to look up, proposed changes, what was found.
    # Operational (may hold the customer's own identifiers); never copied into the audit log.
    data: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SealedJSON("dsr_case.data"), nullable=False)
    )
    round: int = 0  # bumped by reclassification; approvals of earlier rounds stop counting
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    # Work claim for scale-out (FOR UPDATE SKIP LOCKED) and optimistic concurrency.
    version: int = 0
    next_action_at: datetime | None = Field(default=None, index=True)
    # The desk instance working on the case's due step (`DeskInstance.id`); cleared by the move
    # that ends the step. A claim whose owner died is taken over at once, not after the lease.
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None

    @property
    def reference(self) -> str:
        """The customer-visible reference, `DSR-<n>`."""
        return reference_of(self.id)

    @property
    def effective_due(self) -> date:
        """The due date including any extension."""
        return self.extended_to or self.due_on


def reference_of(case_id: int | None) -> str:
    """`DSR-<n>` for a case id."""
    if case_id is None:
        raise ValueError("case has no id yet; flush it before asking for its reference")
    return f"DSR-{case_id}"


def parse_reference(ref: str) -> int:
    """The case id in `DSR-<n>` (case-insensitive, `#` and spaces tolerated).

    Raises:
        ValueError: not a case reference.
    """
    text = ref.strip().upper().lstrip("#")
    if not text.startswith("DSR-") or not text[4:].isdigit():
        raise ValueError(f"{ref!r} is not a case reference; expected the form DSR-123")
    return int(text[4:])


class InboundMessage(SQLModel, table=True):
    """Every message that reached the desk, kept raw (up to a size limit) for the record."""

    __tablename__ = "inbound_message"

    id: int | None = Field(default=None, primary_key=True)
    # Only the keyed hash of the Message-ID is stored: lookups and uniqueness work on it.
    message_id: str = Field(sa_column=Column(LookupHash(998), nullable=False, unique=True))
    case_id: int | None = Field(default=None, foreign_key="dsr_case.id", index=True)
    channel: str = Field(default="email", max_length=16)
    source: str | None = Field(default=None, max_length=200)  # mailbox + uid, maildir key, slack ts
    # A repeat delivery is never stored twice ("duplicate" is only a processing result).
    kind: RecordKind = Field(
        default=RecordKind.REQUEST,
        sa_column=_enum_column(RecordKind, 16, nullable=False, index=True),
    )
    robot_kind: str | None = Field(default=None, max_length=32)
    sender_pseudonym: str | None = Field(default=None, max_length=64)
    size: int = 0
    sha256: str = Field(max_length=64)
    raw: bytes | None = Field(default=None, sa_column=Column(SealedBytes("inbound_message.raw")))
    truncated: bool = False
    error: str | None = Field(default=None, sa_column=Column(SealedText("inbound_message.error")))
    received_at: datetime = Field(default_factory=utcnow)


class VerificationChallenge(SQLModel, table=True):
    """A code sent to an address (on file for consent, or a new one for ownership); only its
    hash is stored, and `sent_to_pseudonym` is the keyed form of the exact address."""

    __tablename__ = "verification_challenge"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dsr_case.id", index=True)
    code_hash: str = Field(max_length=128)
    message_id: str | None = Field(default=None, max_length=998, index=True)
    sent_to_pseudonym: str = Field(max_length=64, index=True)
    purpose: str = Field(default="consent", max_length=16)  # consent | ownership
    expires_at: datetime
    attempts: int = 0
    max_attempts: int = 5
    stray_attempts: int = 0  # wrong codes in mails that may be forged (never revoke)
    used_at: datetime | None = None
    revoked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Approval(SQLModel, table=True):
    """One staff decision on a case; four-eyes counts distinct approvers."""

    __tablename__ = "approval"
    __table_args__ = (UniqueConstraint("case_id", "actor", "decision", "round"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dsr_case.id", index=True)
    actor: str = Field(max_length=128)
    decision: str = Field(max_length=16)  # approve | reject
    round: int = 0  # bumped by reclassification, so earlier approvals stop counting
    reason: str | None = Field(default=None, sa_column=Column(SealedText("approval.reason")))
    created_at: datetime = Field(default_factory=utcnow)


class Outbox(SQLModel, table=True):
    """A message to send (mail or Slack), written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="dsr_case.id", index=True)
    kind: str = Field(max_length=16)  # mail | slack
    template: str = Field(max_length=64)
    # Addresses, names, a challenge's code until it is sent: sealed.
    payload: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(SealedJSON("outbox.payload"), nullable=False)
    )
    message_id: str | None = Field(default=None, max_length=998, unique=True)
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_column=_enum_column(OutboxStatus, 16, nullable=False)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    # A mail server's refusal may quote the address: sealed.
    last_error: str | None = Field(default=None, sa_column=Column(SealedText("outbox.last_error")))
    claimed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class RecipientTask(SQLModel, table=True):
    """One recipient (or controller, for processor data) to tell about a case's action.

    Holds no customer data: the identifiers the recipient holds are in its outbox row only.
    """

    __tablename__ = "recipient_task"
    __table_args__ = (
        UniqueConstraint("case_id", "recipient_key", "action", name="uq_recipient_task"),
        Index("ix_recipient_task_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="dsr_case.id", index=True)
    recipient_key: str = Field(max_length=64)
    recipient_name: str = Field(max_length=255)
    action: str = Field(max_length=16)  # erasure | rectification | restriction | processor
    channel: str = Field(max_length=16)  # email | webhook | manual
    contact: str | None = Field(default=None, sa_column=Column(Text))
    status: TaskStatus = Field(
        default=TaskStatus.QUEUED, sa_column=_enum_column(TaskStatus, 16, nullable=False)
    )
    outbox_id: int | None = Field(default=None, index=True)
    message_id: str | None = Field(default=None, max_length=998, index=True)
    due_at: datetime | None = None
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = Field(default=None, max_length=16)  # reply|webhook|callback
    actor: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class TrainingLabel(SQLModel, table=True):
    """A staff correction of the classifier, for `dsr train --include-labels`."""

    __tablename__ = "training_label"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="dsr_case.id", index=True)
    text: str = Field(sa_column=Column(SealedText("training_label.text"), nullable=False))
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    language: str | None = Field(default=None, max_length=8)
    predicted: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class MailboxState(SQLModel, table=True):
    """IMAP UIDVALIDITY and the highest UID handled, per mailbox."""

    __tablename__ = "mailbox_state"

    mailbox: str = Field(primary_key=True, max_length=200)
    uidvalidity: int
    last_uid: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class DeskInstance(SQLModel, table=True):
    """One running `dsr run` process, with a heartbeat; claims name it, so a restarted desk
    can tell its dead predecessor's claims from a live neighbour's."""

    __tablename__ = "desk_instance"

    id: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=255)
    pid: int
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow, index=True)


__all__ = [
    "Approval",
    "Case",
    "CaseState",
    "DeskInstance",
    "InboundMessage",
    "MailboxState",
    "Outbox",
    "OutboxStatus",
    "RecipientTask",
    "RecordKind",
    "TaskStatus",
    "TrainingLabel",
    "VerificationChallenge",
    "parse_reference",
    "reference_of",
    "utcnow",
]
