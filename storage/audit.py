"""The append-only, hash-chained audit log: append, verify, export.

Each event's hash covers `canonical_payload(...)`, which includes the previous event's hash, so
changing, removing or reordering any event breaks every hash after it. Two hash versions:

- **plain** (`sha256`): SHA-256 of the payload. Every log written before keying used it.
- **keyed** (`hmac-sha256`): HMAC-SHA-256 of the payload with the audit key, which is never stored
  in the database, so someone who can write the table cannot recompute the chain.

The version changes once, at an `audit_chain_keyed` event: that event and every later one are
keyed, every earlier one plain. `append` writes that event the first time it runs with a key
(`use_key`) on a plain chain. Database triggers (migrations 0001 and 0005) refuse UPDATE, DELETE
and any INSERT that is not the next link; PostgreSQL also takes the table away from the desk's
role (see README "Audit log"). Appends serialise on a PostgreSQL advisory lock (SQLite: the
write lock), so concurrent writers never fork the chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from storage import audit_chain

# The chain's append lives in storage.audit_chain (no SQLModel); its names are ours too.
from storage.audit_chain import (
    _KEY,
    ADVISORY_LOCK_KEY,
    ALG_KEYED,
    ALG_PLAIN,
    GENESIS,
    KEYED_ACTION,
    Link,
    canonical_json,
    canonical_payload,
    current_key,
    event_hash,
    key_id,
    now_ts,
    reset_key,
    use_key,
)
from storage.errors import AuditChainError

# The async API only as types: `dsr audit verify` and `dsr store` run on storage.bridge. The
# model (SQLModel, and with it the ORM) only where events are read or returned as objects.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlmodel.ext.asyncio.session import AsyncSession

    from storage.audit_event import AuditEvent


async def append(
    session: AsyncSession | AsyncConnection,
    *,
    action: str,
    actor: str,
    case_ref: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """`storage.audit_chain.append`, returning the event as an `AuditEvent`.

    Raises:
        AuditWriteError: as `storage.audit_chain.append`.
    """
    from storage.audit_event import AuditEvent

    link = await audit_chain.append(
        session, action=action, actor=actor, case_ref=case_ref, details=details
    )
    return AuditEvent(**link.as_row())


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded outside the database: event `seq` had hash `hash`."""

    seq: int
    hash: str
    source: str
    ts: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain verification."""

    ok: bool
    count: int
    last_seq: int
    last_hash: str
    broken_seq: int | None = None
    reason: str | None = None
    keyed_from: int | None = None
    anchors_used: tuple[Anchor, ...] = field(default_factory=tuple)


_COLUMNS = "seq, ts, case_ref, actor, action, details, prev_hash, hash"


async def _rows(
    engine: AsyncEngine,
    where: str = "",
    params: Mapping[str, Any] | None = None,
    batch: int = 20_000,
) -> AsyncGenerator[Sequence[Any]]:
    async with engine.connect() as conn:
        result = await conn.stream(
            text(f"SELECT {_COLUMNS} FROM audit_event {where} ORDER BY seq"),  # noqa: S608
            dict(params or {}),
        )
        async for part in result.partitions(batch):
            for row in part:
                yield row


async def _partitions(engine: AsyncEngine, batch: int = 50_000) -> AsyncGenerator[Sequence[Any]]:
    async with engine.connect() as conn:
        result = await conn.stream(
            text(f"SELECT {_COLUMNS} FROM audit_event ORDER BY seq")  # noqa: S608
        )
        async for part in result.partitions(batch):
            yield part


def _sqlite_file(engine: AsyncEngine) -> Path | None:
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.query.get("mode") == "memory" or url.database.startswith("file:"):
        return None
    path = Path(url.database)
    return path.resolve() if path.exists() else None


def _walk_sqlite_file(
    path: Path, state: _Walk, anchors: Mapping[int, list[Anchor]], batch: int = 10_000
) -> None:
    conn = sqlite3.connect(path.as_uri() + "?mode=ro", uri=True)
    try:
        cursor = conn.execute(f"SELECT {_COLUMNS} FROM audit_event ORDER BY seq")  # noqa: S608
        while rows := cursor.fetchmany(batch):
            state.walk(rows, anchors)
    finally:
        conn.close()


class _Broken(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        self.seq, self.reason = seq, reason


async def verify(
    engine: AsyncEngine,
    *,
    head: tuple[int, str] | None = None,
    anchors: Sequence[Anchor] = (),
    key: bytes | None = None,
) -> VerifyResult:
    """Recompute the whole chain, streaming; report the first event that does not verify.

    Args:
        engine: the case-store engine.
        head: a (seq, hash) pair recorded earlier, checked like an anchor.
        anchors: heads recorded outside the database (head file, mails, Slack); each must be a
            prefix of the chain: the event exists and has that hash (a cut tail fails here).
        key: the audit key (default: the one set by `use_key`); needed once the chain is keyed.
    """
    key = key if key is not None else _KEY.get()
    wanted = list(anchors) + ([Anchor(head[0], head[1], "--head")] if head else [])
    by_seq: dict[int, list[Anchor]] = {}
    for anchor in wanted:
        by_seq.setdefault(anchor.seq, []).append(anchor)
    state = _Walk(key)
    path = _sqlite_file(engine)
    try:
        if path is not None:
            # SQLite file: read it in a worker thread with the plain driver, a big cursor page
            # at a time; a third of the time of the async driver's row hops.
            await asyncio.to_thread(_walk_sqlite_file, path, state, by_seq)
        else:
            async with aclosing(_partitions(engine)) as parts:
                async for part in parts:
                    state.walk(part, by_seq)
    except _Broken as broken:
        return VerifyResult(
            False,
            state.count,
            state.expected - 1,
            state.prev,
            broken.seq,
            broken.reason,
            state.keyed_from,
            tuple(state.used),
        )
    last = state.expected - 1
    for anchor in sorted(wanted, key=lambda a: a.seq):
        if anchor.seq > last:
            return VerifyResult(
                False,
                state.count,
                last,
                state.prev,
                last + 1,
                f"log ends at {last} but anchor {anchor.source} names event {anchor.seq} "
                "(tail truncated)",
                state.keyed_from,
                tuple(state.used),
            )
    return VerifyResult(
        True, state.count, last, state.prev, None, None, state.keyed_from, tuple(state.used)
    )


class _Walk:
    """The running state of a verification; `walk` checks one partition of rows."""

    def __init__(self, key: bytes | None) -> None:
        self.key = key
        self.mac = hmac.new(key, digestmod=hashlib.sha256) if key is not None else None
        self.expected, self.prev, self.count = 1, GENESIS, 0
        self.keyed_from: int | None = None
        self.used: list[Anchor] = []

    def walk(self, rows: Sequence[Any], anchors: Mapping[int, list[Anchor]]) -> None:
        # Locals and one loop, no per-row calls beyond hashing: this runs a million times.
        sha256, expected, prev, keyed = hashlib.sha256, self.expected, self.prev, self.keyed_from
        mac, enc = self.mac, encode_basestring
        try:
            for seq, ts, case_ref, actor, action, details, prev_hash, digest in rows:
                if seq != expected:
                    reason = "missing event" if seq > expected else "sequence out of order"
                    raise _Broken(expected, reason)
                if prev_hash != prev:
                    raise _Broken(seq, "previous-hash link does not match the event before it")
                if keyed is None and action == KEYED_ACTION:
                    keyed = self._start_keyed(seq, details)
                ref = "null" if case_ref is None else enc(case_ref)
                payload = (
                    f'{{"action":{enc(action)},"actor":{enc(actor)},"case_ref":{ref},'
                    f'"details":{details},"prev_hash":"{prev_hash}","seq":{seq},'
                    f'"ts":{enc(ts)}}}'
                ).encode()
                if keyed is None:
                    computed = sha256(payload).hexdigest()
                else:
                    assert mac is not None
                    h = mac.copy()
                    h.update(payload)
                    computed = h.hexdigest()
                if computed != digest:
                    raise _Broken(
                        seq,
                        "content does not match its hash (altered"
                        + (", or hashed without the audit key)" if keyed else ")"),
                    )
                if seq in anchors:
                    for anchor in anchors[seq]:
                        if anchor.hash != digest:
                            raise _Broken(
                                seq, f"anchor {anchor.source} recorded another hash for it"
                            )
                        self.used.append(anchor)
                prev, expected = digest, seq + 1
                self.count += 1
        finally:
            self.expected, self.prev, self.keyed_from = expected, prev, keyed

    def _start_keyed(self, seq: int, details: str) -> int:
        if self.key is None:
            raise _Broken(
                seq,
                "the chain is keyed from here on; verify with the audit key "
                "(DSR_AUDIT_KEY, or DSR_SECRET_KEY it is derived from)",
            )
        recorded = str(json.loads(details).get("key_id", ""))
        if recorded != key_id(self.key):
            raise _Broken(
                seq,
                f"the chain was keyed with key id {recorded}; this key's id is "
                f"{key_id(self.key)} (wrong DSR_AUDIT_KEY?)",
            )
        self.keyed_from = seq
        return seq


async def verify_or_raise(
    engine: AsyncEngine,
    *,
    head: tuple[int, str] | None = None,
    anchors: Sequence[Anchor] = (),
) -> VerifyResult:
    """`verify`, raising `AuditChainError` on the first broken event."""
    result = await verify(engine, head=head, anchors=anchors)
    if not result.ok:
        assert result.broken_seq is not None and result.reason is not None
        raise AuditChainError(result.broken_seq, result.reason)
    return result


async def chain_head(engine: AsyncEngine) -> tuple[int, str] | None:
    """The last event's (seq, hash), or None for an empty log (no verification)."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"))
        ).first()
    return (int(row[0]), str(row[1])) if row else None


async def events(
    engine: AsyncEngine,
    *,
    case_ref: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AsyncIterator[AuditEvent]:
    """Events in sequence order, optionally for one case and/or between ISO dates."""
    from storage.audit_event import AuditEvent

    clauses, params = [], {}
    if case_ref:
        clauses.append("case_ref = :case_ref")
        params["case_ref"] = case_ref
    if since:
        clauses.append("ts >= :since")
        params["since"] = since
    if until:
        clauses.append("ts < :until")
        params["until"] = until
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    names = _COLUMNS.split(", ")
    async with aclosing(_rows(engine, where, params)) as rows:
        async for row in rows:
            yield AuditEvent(**dict(zip(names, row, strict=True)))


async def action_counts(
    engine: AsyncEngine, *, since: str | None = None, until: str | None = None
) -> dict[str, int]:
    """How many events of each action between two ISO dates (for the month report)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT action, COUNT(*) FROM audit_event "
                "WHERE ts >= :since AND ts < :until GROUP BY action"
            ),
            {"since": since or "", "until": until or "9999"},
        )
        return {str(a): int(n) for a, n in rows}


async def details_of(
    engine: AsyncEngine, action: str, *, since: str, until: str
) -> AsyncIterator[dict[str, Any]]:
    """The parsed details of one action's events between two ISO dates (for the month report;
    plain rows, no model objects: a month can hold many)."""
    async with engine.connect() as conn:
        result = await conn.stream(
            text(
                "SELECT details FROM audit_event "
                "WHERE action = :a AND ts >= :since AND ts < :until ORDER BY seq"
            ),
            {"a": action, "since": since, "until": until},
        )
        async for row in result:
            yield json.loads(row[0])


async def count_action(engine: AsyncEngine, action: str) -> int:
    """How many events of one action (indexed; for /metrics)."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT COUNT(*) FROM audit_event WHERE action = :a"), {"a": action}
        )
        return int(found.scalar() or 0)


def __getattr__(name: str) -> Any:
    """`storage.audit.AuditEvent`, imported on first use (see storage/audit_event.py)."""
    if name == "AuditEvent":
        from storage.audit_event import AuditEvent

        return AuditEvent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ADVISORY_LOCK_KEY",
    "ALG_KEYED",
    "ALG_PLAIN",
    "GENESIS",
    "KEYED_ACTION",
    "Anchor",
    "AuditEvent",
    "Link",
    "VerifyResult",
    "action_counts",
    "append",
    "canonical_json",
    "canonical_payload",
    "chain_head",
    "count_action",
    "current_key",
    "details_of",
    "event_hash",
    "events",
    "key_id",
    "now_ts",
    "reset_key",
    "use_key",
    "verify",
    "verify_or_raise",
]
