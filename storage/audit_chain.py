"""The audit chain's append: the key in use, the canonical payload and its hash, and `append`.

Split from `storage.audit` (which re-exports all of it, and adds verification, export and the
`AuditEvent` model) so that a `dsr store` command appends its event without importing SQLModel
or SQLAlchemy's asyncio layer: `append` takes any connection or session that can `execute`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from contextvars import ContextVar, Token
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.errors import AuditWriteError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlmodel.ext.asyncio.session import AsyncSession

    from storage.bridge import BridgeConnection

GENESIS = "0" * 64
ADVISORY_LOCK_KEY = 0x64737261756474  # "dsraudt"
KEYED_ACTION = "audit_chain_keyed"
ALG_PLAIN, ALG_KEYED = "sha256", "hmac-sha256"
_EMAIL_RE = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[A-Za-z]{2,}")
_KEY: ContextVar[bytes | None] = ContextVar("dsr_audit_key", default=None)
#: per engine: (seq of the keying event, key id) once seen; never cached while the chain is plain
_KEYED: WeakKeyDictionary[Engine, tuple[int, str]] = WeakKeyDictionary()


@dataclass(frozen=True)
class Link:
    """One appended event, as written (`storage.audit.AuditEvent` has the same fields)."""

    seq: int
    ts: str
    case_ref: str | None
    actor: str
    action: str
    details: str
    prev_hash: str
    hash: str

    def as_row(self) -> dict[str, Any]:
        """The column values."""
        return asdict(self)


def use_key(key: bytes | None) -> Token[bytes | None]:
    """Set the audit key for this context (and the tasks it starts): `append` keys the chain
    with it and `verify` checks with it. Called once at start-up from the settings.

    Returns:
        A token for `reset_key`.
    """
    return _KEY.set(key)


def reset_key(token: Token[bytes | None]) -> None:
    """Undo a `use_key`."""
    _KEY.reset(token)


def current_key() -> bytes | None:
    """The audit key set by `use_key`, if any."""
    return _KEY.get()


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key (recorded in the keying event; not the key)."""
    return hmac.new(key, b"dsr-bot audit key id", hashlib.sha256).hexdigest()[:16]


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the one serialisation that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_payload(
    seq: int, ts: str, case_ref: str | None, actor: str, action: str, details: str, prev_hash: str
) -> str:
    """The exact text that is hashed (equal to canonical_json of the event with `details` parsed,
    as long as `details` is itself canonical JSON). `encode_basestring` is what json.dumps uses
    for a str with ensure_ascii=False, called directly because verify runs it a million times."""
    ref = "null" if case_ref is None else encode_basestring(case_ref)
    return (
        f'{{"action":{encode_basestring(action)},"actor":{encode_basestring(actor)},'
        f'"case_ref":{ref},"details":{details},'
        f'"prev_hash":{encode_basestring(prev_hash)},"seq":{seq},"ts":{encode_basestring(ts)}}}'
    )


def event_hash(
    seq: int,
    ts: str,
    case_ref: str | None,
    actor: str,
    action: str,
    details: str,
    prev_hash: str,
    key: bytes | None = None,
) -> str:
    """Hex digest of the canonical payload: HMAC-SHA-256 with `key`, plain SHA-256 without."""
    payload = canonical_payload(seq, ts, case_ref, actor, action, details, prev_hash).encode()
    if key is None:
        return hashlib.sha256(payload).hexdigest()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


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


async def _keyed_from(conn: Any) -> tuple[int, str] | None:
    cached = _KEYED.get(conn.sync_engine)
    if cached is not None:
        return cached
    row = (
        await conn.execute(
            text("SELECT seq, details FROM audit_event WHERE action = :a ORDER BY seq LIMIT 1"),
            {"a": KEYED_ACTION},
        )
    ).first()
    if row is None:
        return None
    found = (int(row[0]), str(json.loads(row[1]).get("key_id", "")))
    _KEYED[conn.sync_engine] = found
    return found


async def _insert(
    conn: Any,
    key: bytes | None,
    *,
    action: str,
    actor: str,
    case_ref: str | None,
    encoded: str,
) -> Link:
    row = (
        await conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"))
    ).first()
    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
    ts = now_ts()
    event = Link(
        seq=seq,
        ts=ts,
        case_ref=case_ref,
        actor=actor,
        action=action,
        details=encoded,
        prev_hash=prev,
        hash=event_hash(seq, ts, case_ref, actor, action, encoded, prev, key),
    )
    await conn.execute(
        text(
            "INSERT INTO audit_event (seq, ts, case_ref, actor, action, details, prev_hash, hash) "
            "VALUES (:seq, :ts, :case_ref, :actor, :action, :details, :prev_hash, :hash)"
        ),
        event.as_row(),
    )
    return event


async def append(
    session: AsyncSession | AsyncConnection | BridgeConnection,
    *,
    action: str,
    actor: str,
    case_ref: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Link:
    """Append one event inside the caller's transaction (commit is the caller's).

    With a key (`use_key`) on a plain chain, first appends the `audit_chain_keyed` event; from
    then on every event is keyed.

    Args:
        session: a session or connection with an open (or autobegun) transaction.
        action: snake_case verb, e.g. `case_received`.
        actor: `system`, `customer:<pseudonym>`, `slack:<user id>` or `cli:<user>`.
        case_ref: `DSR-<n>` or None for events about no case.
        details: JSON-able mapping holding no raw personal data.

    Raises:
        AuditWriteError: details not serialisable or carrying an e-mail address; the chain is
            keyed but no key (or another key) is set.
    """
    encoded = _check_details(details or {})
    # a session (it has a `sync_session`) gives its connection; a connection is used as is
    conn: Any = session
    if hasattr(session, "sync_session"):
        conn = await session.connection()  # type: ignore[union-attr]
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
    key = _KEY.get()
    keyed = await _keyed_from(conn)
    if keyed is not None and (key is None or key_id(key) != keyed[1]):
        raise AuditWriteError(
            f"the audit chain is keyed since event {keyed[0]} (key id {keyed[1]}) but "
            + ("no audit key is set" if key is None else f"this key's id is {key_id(key)}")
            + "; set DSR_AUDIT_KEY (or the DSR_SECRET_KEY it was derived from) as before"
        )
    if keyed is None and key is not None:
        await _insert(
            conn,
            key,
            action=KEYED_ACTION,
            actor="system",
            case_ref=None,
            encoded=canonical_json({"alg": ALG_KEYED, "key_id": key_id(key)}),
        )
    return await _insert(conn, key, action=action, actor=actor, case_ref=case_ref, encoded=encoded)
