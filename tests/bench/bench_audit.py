"""Audit-log benchmark: append latency on SQLite and full-chain verification of N events.

    taskset -c 0 python tests/bench/bench_audit.py [--events N] [--appends N] [--backend ...]

Bulk-loads a valid keyed chain of N events (the keying event, then HMAC-SHA-256 links, computed
with the same hash function) directly, then times `storage.audit.verify` over it (and the peak
RSS it added: verify streams, so it stays flat), and times `storage.audit.append` one event per
transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage import audit
from storage.db import create_engine, session_factory
from storage.migrate import upgrade

KEY = b"bench-audit-key-0123456789abcdef01"


async def bulk_load(url: str, n: int) -> None:
    engine = create_engine(url)
    prev, batch = audit.GENESIS, []
    sql = text(
        "INSERT INTO audit_event (seq, ts, case_ref, actor, action, details, prev_hash, hash) "
        "VALUES (:seq, :ts, :case_ref, :actor, :action, :details, :prev_hash, :hash)"
    )
    ts = audit.now_ts()
    async with engine.begin() as conn:
        for seq in range(1, n + 1):
            ref: str | None = f"DSR-{seq // 10 + 1}"
            action = "case_classify"
            details = audit.canonical_json(
                {"from": "received", "to": "awaiting_approval", "n": seq}
            )
            if seq == 1:
                ref, action = None, audit.KEYED_ACTION
                details = audit.canonical_json(
                    {"alg": audit.ALG_KEYED, "key_id": audit.key_id(KEY)}
                )
            digest = audit.event_hash(seq, ts, ref, "system", action, details, prev, KEY)
            batch.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "case_ref": ref,
                    "actor": "system",
                    "action": action,
                    "details": details,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
            if len(batch) == 20_000:
                await conn.execute(sql, batch)
                batch = []
        if batch:
            await conn.execute(sql, batch)
    await engine.dispose()


async def time_verify(url: str) -> tuple[float, float, int]:
    engine = create_engine(url)
    t0, c0 = time.perf_counter(), time.process_time()
    result = await audit.verify(engine, key=KEY)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    await engine.dispose()
    assert result.ok, result.reason
    return elapsed, cpu, result.count


async def time_appends(url: str, n: int) -> list[float]:
    engine = create_engine(url)
    factory = session_factory(engine)
    samples = []
    audit.use_key(KEY)
    for i in range(n):
        t0 = time.perf_counter()
        async with factory() as session, session.begin():
            await audit.append(
                session, action="bench", actor="system", case_ref="DSR-1", details={"i": i}
            )
        samples.append(time.perf_counter() - t0)
    await engine.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dsr-bench-audit-"))
    server = None
    if args.backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'audit.db'}"
    else:
        from tests.servers.postgres import start_postgres

        server = start_postgres()
        url = server.create_database("bench")
    try:
        upgrade(url)
        t0 = time.perf_counter()
        asyncio.run(bulk_load(url, args.events))
        print(f"loaded {args.events:,} events in {time.perf_counter() - t0:.1f} s ({args.backend})")
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        elapsed, cpu, count = asyncio.run(time_verify(url))
        grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        print(
            f"verify: {count:,} events in {elapsed:.2f} s wall, {cpu:.2f} s CPU "
            f"({count / elapsed:,.0f} events/s); "
            f"peak RSS grew {grew:.0f} MB"
        )
        samples = asyncio.run(time_appends(url, args.appends))
        q = statistics.quantiles(samples, n=100)
        print(
            f"append (one event per transaction, {args.appends} samples): "
            f"p50 {statistics.median(samples) * 1000:.3f} ms, p95 {q[94] * 1000:.3f} ms"
        )
    finally:
        if server is not None:
            from tests.servers.postgres import destroy

            destroy(server)


if __name__ == "__main__":
    main()
