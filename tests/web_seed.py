"""Seeds a case store with many varied cases and their audit events, fast (bulk inserts and a
chain computed here), for the auditor pages' tests, the browser test and the benchmarks."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import audit
from storage.models import Case, CaseState

INTENTS = ["access", "erasure", "rectification", "objection", "portability", "unsubscribe"]
CHANNELS = ["email", "email", "email", "staff", "slack"]
LANGUAGES = ["en", "en", "de", "nl", "fr", "es"]
REASONS = ["identity not verified", "manifestly unfounded", "no data held", "duplicate"]
XSS = "<script>alert('pwned')</script><b>bold</b>"


def _case(i: int, start: datetime, days: int, today: date, rng: random.Random) -> dict[str, object]:
    received = start + timedelta(seconds=rng.randrange(days * 86_400))
    due = (received + timedelta(days=30)).date()
    roll = rng.random()
    state = (
        CaseState.DONE
        if roll < 0.55
        else CaseState.REJECTED
        if roll < 0.65
        else CaseState.EXPIRED
        if roll < 0.7
        else rng.choice(
            [CaseState.AWAITING_VERIFICATION, CaseState.AWAITING_APPROVAL, CaseState.NEEDS_TRIAGE]
        )
    )
    closed = None
    if state in (CaseState.DONE, CaseState.REJECTED, CaseState.EXPIRED):
        closed = received + timedelta(days=rng.choice([1, 3, 7, 12, 20, 28, 33, 45]))
    extended = due + timedelta(days=60) if rng.random() < 0.05 else None
    return {
        "state": state,
        "intents": rng.sample(INTENTS, k=1 if rng.random() < 0.85 else 2),
        "scores": {},
        "confidence": round(rng.betavariate(5, 2), 3),
        "needs_review": False,
        "channel": rng.choice(CHANNELS),
        "language": rng.choice(LANGUAGES),
        "subject_pseudonym": f"p{i:08x}",
        "received_at": received,
        "due_on": due,
        "extended_to": extended,
        "extension_reason": XSS if extended else None,
        "version": 1,
        "created_at": received,
        "updated_at": closed or received,
        "closed_at": closed,
        "data": {},
    }


async def seed(
    engine: AsyncEngine,
    n: int,
    *,
    start: datetime | None = None,
    days: int = 30,
    key: bytes | None = None,
    seed_value: int = 18,
) -> None:
    """`n` cases received over `days` days from `start` (default: 30 days ago), each with two to
    four audit events in one valid chain (keyed with `key`), appended after what is there."""
    rng = random.Random(seed_value)  # reproducible figures
    start = start or datetime.now(UTC) - timedelta(days=days)
    today = datetime.now(UTC).date()
    rows = [_case(i, start, days, today, rng) for i in range(n)]
    async with engine.begin() as conn:
        first = int(
            (await conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM dsr_case"))).scalar() or 0
        )
        for chunk in range(0, n, 5_000):
            await conn.execute(insert(Case), rows[chunk : chunk + 5_000])
        head = (
            await conn.execute(text("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"))
        ).first()
        seq, prev = (int(head[0]), str(head[1])) if head else (0, audit.GENESIS)
        events: list[dict[str, object]] = []

        def add(
            ts: datetime, ref: str | None, actor: str, action: str, details: dict[str, object]
        ) -> None:
            nonlocal seq, prev
            seq += 1
            stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            encoded = audit.canonical_json(details)
            digest = audit.event_hash(seq, stamp, ref, actor, action, encoded, prev, key)
            events.append(
                {
                    "seq": seq,
                    "ts": stamp,
                    "case_ref": ref,
                    "actor": actor,
                    "action": action,
                    "details": encoded,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest

        if key is not None and seq == 0:
            add(
                start,
                None,
                "system",
                audit.KEYED_ACTION,
                {"alg": audit.ALG_KEYED, "key_id": audit.key_id(key)},
            )
        for offset, row in enumerate(rows, 1):
            ref = f"DSR-{first + offset}"
            received = row["received_at"]
            assert isinstance(received, datetime)
            add(
                received,
                ref,
                f"customer:{row['subject_pseudonym']}",
                "case_received",
                {"channel": row["channel"]},
            )
            verified = rng.random() < 0.8
            add(
                received + timedelta(hours=2),
                ref,
                "system",
                "case_verify" if verified else "verification_refused",
                {"from": "awaiting_verification", "to": "awaiting_approval"}
                if verified
                else {"reason": "wrong_code"},
            )
            closed = row["closed_at"]
            if isinstance(closed, datetime):
                if row["state"] == CaseState.REJECTED:
                    add(
                        closed,
                        ref,
                        "slack:U0STAFF",
                        "case_reject",
                        {
                            "from": "awaiting_approval",
                            "to": "rejected",
                            "reason": rng.choice(REASONS),
                        },
                    )
                else:
                    add(
                        closed,
                        ref,
                        "system",
                        f"case_{'complete' if row['state'] == CaseState.DONE else 'expire'}",
                        {"from": "approved", "to": str(row["state"])},
                    )
        events.sort(key=lambda e: int(e["seq"]))  # type: ignore[call-overload]
        sql = text(
            "INSERT INTO audit_event (seq, ts, case_ref, actor, action, details, prev_hash, hash) "
            "VALUES (:seq, :ts, :case_ref, :actor, :action, :details, :prev_hash, :hash)"
        )
        for chunk in range(0, len(events), 20_000):
            await conn.execute(sql, events[chunk : chunk + 20_000])
