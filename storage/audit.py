"""The append-only, hash-chained audit log: append, verify, export.

Each event's hash is SHA-256 over `canonical_payload(...)`, which includes the previous event's
hash, so changing, removing or reordering any event breaks every hash after it. Database
triggers (created by the first migration) refuse UPDATE and DELETE. Appends serialise on a
PostgreSQL advisory lock (SQLite: `BEGIN IMMEDIATE`), so concurrent writers never fork the chain.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Text, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.errors import AuditChainError, AuditWriteError

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x64737261756474  # "dsraudt"
_EMAIL_RE = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[A-Za-z]{2,}")


class AuditEvent(SQLModel, table=True):
    """One audit event. Written only by `append`; the database refuses UPDATE and DELETE."""

    __tablename__ = "audit_event"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    ts: str = Field(max_length=32)
    case_ref: str | None = Field(default=None, max_length=32, index=True)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    details: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the one serialisation that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_payload(
    seq: int, ts: str, case_ref: str | None, actor: str, action: str, details: str, prev_hash: str
) -> str:
    """The exact text whose SHA-256 is the event hash (equal to canonical_json of the event
    with `details` parsed, as long as `details` is itself canonical JSON)."""
    return (
        f'{{"action":{canonical_json(action)},"actor":{canonical_json(actor)},'
        f'"case_ref":{canonical_json(case_ref)},"details":{details},'
        f'"prev_hash":{canonical_json(prev_hash)},"seq":{seq},"ts":{canonical_json(ts)}}}'
    )


def event_hash(
    seq: int, ts: str, case_ref: str | None, actor: str, action: str, details: str, prev_hash: str
) -> str:
    """SHA-256 hex of the canonical payload."""
    payload = canonical_payload(seq, ts, case_ref, actor, action, details, prev_hash)
    return hashlib.sha256(payload.encode()).hexdigest()


def _check_details(details: Mapping[str, Any]) -> str:
    try:
        encoded = canonical_json(dict(details))
    except (TypeError, ValueError) as exc:
        raise AuditWriteError(f"audit details are not JSON-serialisable: {exc}") from exc
    if _EMAIL_RE.search(encoded):
        raise AuditWriteError(
            "audit details contain what looks like an e-mail address; pass a pseudonym "
            "(storage.pseudonym.pseudonym) instead of raw personal data"
        )
    return encoded


def now_ts() -> str:
    """UTC time with microseconds, the stored and hashed form."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def append(
    session: AsyncSession | AsyncConnection,
    *,
    action: str,
    actor: str,
    case_ref: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction (commit is the caller's).

    Args:
        session: a session or connection with an open (or autobegun) transaction.
        action: snake_case verb, e.g. `case_received`.
        actor: `system`, `customer:<pseudonym>`, `slack:<user id>` or `cli:<user>`.
        case_ref: `DSR-<n>` or None for events about no case.
        details: JSON-able mapping holding no raw personal data.

    Raises:
        AuditWriteError: details not serialisable or carrying an e-mail address.
    """
    encoded = _check_details(details or {})
    conn = session if isinstance(session, AsyncConnection) else await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
    row = (
        await conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"))
    ).first()
    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
    ts = now_ts()
    digest = event_hash(seq, ts, case_ref, actor, action, encoded, prev)
    event = AuditEvent(
        seq=seq,
        ts=ts,
        case_ref=case_ref,
        actor=actor,
        action=action,
        details=encoded,
        prev_hash=prev,
        hash=digest,
    )
    await conn.execute(
        text(
            "INSERT INTO audit_event (seq, ts, case_ref, actor, action, details, prev_hash, hash) "
            "VALUES (:seq, :ts, :case_ref, :actor, :action, :details, :prev_hash, :hash)"
        ),
        event.model_dump(),
    )
    return event


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification."""

    ok: bool
    count: int
    last_seq: int
    last_hash: str
    broken_seq: int | None = None
    reason: str | None = None


_COLUMNS = "seq, ts, case_ref, actor, action, details, prev_hash, hash"


async def _rows(
    engine: AsyncEngine,
    where: str = "",
    params: Mapping[str, Any] | None = None,
    batch: int = 20_000,
) -> AsyncGenerator[tuple[Any, ...]]:
    async with engine.connect() as conn:
        result = await conn.stream(
            text(f"SELECT {_COLUMNS} FROM audit_event {where} ORDER BY seq"),  # noqa: S608
            dict(params or {}),
        )
        async for part in result.partitions(batch):
            for row in part:
                yield tuple(row)


async def verify(engine: AsyncEngine, *, head: tuple[int, str] | None = None) -> VerifyResult:
    """Recompute the whole chain; report the first event that does not verify.

    Args:
        engine: the case-store engine.
        head: a (seq, hash) pair recorded earlier (e.g. printed by a previous verify); the chain
            must still contain that event with that hash, which detects a truncated tail.
    """
    expected_seq, prev, count = 1, GENESIS, 0
    async with aclosing(_rows(engine)) as rows:
        async for row in rows:
            broken = _check_row(row, expected_seq, prev, count)
            if broken is not None:
                return broken
            prev, expected_seq, count = row[7], row[0] + 1, count + 1
    last_seq = expected_seq - 1
    if head is not None:
        return await _check_head(engine, head, last_seq, prev, count)
    return VerifyResult(True, count, last_seq, prev)


def _check_row(
    row: tuple[Any, ...], expected_seq: int, prev: str, count: int
) -> VerifyResult | None:
    seq, ts, case_ref, actor, action, details, prev_hash, digest = row
    if seq != expected_seq:
        reason = "missing event" if seq > expected_seq else "sequence out of order"
        return VerifyResult(False, count, expected_seq - 1, prev, expected_seq, reason)
    if prev_hash != prev:
        return VerifyResult(
            False,
            count,
            seq - 1,
            prev,
            seq,
            "previous-hash link does not match the event before it",
        )
    payload = canonical_payload(seq, ts, case_ref, actor, action, details, prev_hash)
    if hashlib.sha256(payload.encode()).hexdigest() != digest:
        return VerifyResult(
            False, count, seq - 1, prev, seq, "content does not match its hash (altered)"
        )
    return None


async def _check_head(
    engine: AsyncEngine, head: tuple[int, str], last_seq: int, prev: str, count: int
) -> VerifyResult:
    head_seq, head_hash = head
    if head_seq > last_seq:
        return VerifyResult(
            False,
            count,
            last_seq,
            prev,
            last_seq + 1,
            f"log ends at {last_seq} but the recorded head is {head_seq} (tail truncated)",
        )
    if head_seq == last_seq:
        found: str | None = prev
    else:
        async with engine.connect() as conn:
            found = (
                await conn.execute(
                    text("SELECT hash FROM audit_event WHERE seq = :s"), {"s": head_seq}
                )
            ).scalar()
    if found != head_hash:
        return VerifyResult(False, count, last_seq, prev, head_seq, "recorded head hash differs")
    return VerifyResult(True, count, last_seq, prev)


async def verify_or_raise(
    engine: AsyncEngine, *, head: tuple[int, str] | None = None
) -> VerifyResult:
    """`verify`, raising `AuditChainError` on the first broken event."""
    result = await verify(engine, head=head)
    if not result.ok:
        assert result.broken_seq is not None and result.reason is not None
        raise AuditChainError(result.broken_seq, result.reason)
    return result


async def events(
    engine: AsyncEngine, *, case_ref: str | None = None, since: str | None = None
) -> AsyncIterator[AuditEvent]:
    """Events in sequence order, optionally for one case and/or from an ISO date on."""
    clauses, params = [], {}
    if case_ref:
        clauses.append("case_ref = :case_ref")
        params["case_ref"] = case_ref
    if since:
        clauses.append("ts >= :since")
        params["since"] = since
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    names = _COLUMNS.split(", ")
    async with aclosing(_rows(engine, where, params)) as rows:
        async for row in rows:
            yield AuditEvent(**dict(zip(names, row, strict=True)))
