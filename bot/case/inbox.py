"""What staff see of the mailbox records: the messages that need a person, and a retry for them.

Nothing here deletes: a record that could not be parsed or processed stays, raw, in the case
store (no sweep removes records today); staff can read it, and put a failed one back for
processing after a fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.case import store
from bot.errors import RecordNotFound
from storage import audit
from storage.models import InboundMessage, RecordKind

#: Kinds that need a person: unreadable, refused for size, or broken in processing.
ATTENTION = (RecordKind.UNPARSEABLE, RecordKind.OVERSIZE, RecordKind.ERROR)
RETRYABLE = (RecordKind.UNPARSEABLE, RecordKind.ERROR)


@dataclass(frozen=True)
class Entry:
    """One inbound record as staff see it (no addresses: the raw message is opened on demand)."""

    id: int
    kind: str
    received_at: datetime
    size: int
    sha256: str
    source: str | None
    case_id: int | None
    error: str | None


def _entry(row: InboundMessage) -> Entry:
    return Entry(
        row.id or 0,
        row.kind,
        row.received_at,
        row.size,
        row.sha256,
        row.source,
        row.case_id,
        row.error,
    )


async def entries(
    sessions: async_sessionmaker[AsyncSession],
    kinds: Sequence[RecordKind] = ATTENTION,
    limit: int = 200,
) -> list[Entry]:
    """Records of the given kinds, newest first."""
    async with sessions() as session:
        return [_entry(r) for r in await store.records_of_kinds(session, kinds, limit)]


async def raw(sessions: async_sessionmaker[AsyncSession], record_id: int) -> bytes:
    """The message bytes as received (up to the size limit).

    Raises:
        RecordNotFound: no such record.
    """
    async with sessions() as session:
        row = await store.get_record(session, record_id)
        if row is None:
            raise RecordNotFound(f"there is no inbound record {record_id}; see `dsr inbox list`")
        return row.raw or b""


async def retry(sessions: async_sessionmaker[AsyncSession], record_id: int, actor: str) -> str:
    """Put an unparseable or failed record back for processing (audited); returns a message.

    Raises:
        RecordNotFound: no such record.
    """
    async with sessions() as session, session.begin():
        row = await store.get_record(session, record_id)
        if row is None:
            raise RecordNotFound(f"there is no inbound record {record_id}; see `dsr inbox list`")
        if row.kind not in RETRYABLE:
            return f"record {record_id} is {row.kind}; only {' or '.join(RETRYABLE)} can be retried"
        before = row.kind
        await store.requeue_record(session, record_id)
        await audit.append(
            session,
            action="message_retried",
            actor=actor,
            details={"record": record_id, "was": before, "sha256": row.sha256},
        )
    return f"record {record_id} ({before}) goes back to processing"
