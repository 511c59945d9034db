"""Issue 8 benchmark: head to head with the peer on its own dataset, in a real PostgreSQL.

Builds ../shared/bench/peer-schema.sql (100,000 customers, ~6.65M rows) in a PostgreSQL started
here, then runs access exports and erasures one at a time through the executor (the pipeline's
code path: find by e-mail, export / preview + apply with the case-store ledger), after one
warm-up each. Every erasure is verified by SQL. Prints p50/p95 and peak RSS.

    python tests/bench/bench_peer.py [--customers 100000] [--rounds 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from storage.customer import Executor  # noqa: E402
from storage.datamap import load_datamap  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.retention import RetentionLedger  # noqa: E402
from tests.servers.postgres import PostgresServer, destroy, start_postgres  # noqa: E402

SCHEMA = ROOT.parent / "shared" / "bench" / "peer-schema.sql"
DATAMAP = Path(__file__).with_name("peer-datamap.yaml")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 0.5):7.2f} ms   p95 {pct(values, 0.95):7.2f} ms   "
        f"mean {statistics.fmean(values):7.2f} ms   (n={len(values)})"
    )


def load(server: PostgresServer, dbname: str, customers: int, schema: Path) -> float:
    server.psql(f'CREATE DATABASE "{dbname}"')
    psql = (server.bindir / "initdb").resolve().parent / "psql"  # Debian: bin dir via symlink
    exe = str(psql) if psql.exists() else "psql"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            exe,
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "-d",
            dbname,
            "-q",
            "-v",
            f"n_customers={customers}",
            "-v",
            "logs_per=50",
            "-v",
            "inv_per=10",
            "-f",
            str(schema),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"loading the peer schema failed: {proc.stderr.strip()[-2000:]}")
    return time.perf_counter() - t0


def subjects(customers: int, start: int, count: int) -> list[int]:
    """The peer's subjects start, start + 10000, … (for 100,000), scaled to the store size."""
    return [max(1, (start + i * 10_000) * customers // 100_000) for i in range(count)]


async def verify_erased(executor: Executor, cid: int, before: dict[str, object]) -> None:
    email = f"customer{cid}@example.com"
    checks = {
        "customer": (
            "SELECT count(*) FROM customer WHERE email = :e OR phone = :p OR last_name = :l "
            "OR (id = :id AND (first_name IS NOT NULL OR street IS NOT NULL "
            "OR date_of_birth IS NOT NULL))"
        ),
        "newsletter_subscription": "SELECT count(*) FROM newsletter_subscription WHERE email = :e",
        "contact_message": ("SELECT count(*) FROM contact_message WHERE email = :e OR name = :bn"),
        "invoice": "SELECT count(*) FROM invoice WHERE billing_name = :bn",
        "activity_log": (
            "SELECT count(*) FROM activity_log WHERE account_id IN "
            "(SELECT id FROM account WHERE customer_id = :id) "
            "AND (ip_address IS NOT NULL OR user_agent IS NOT NULL)"
        ),
    }
    from sqlalchemy import text

    params = {
        "e": email,
        "p": before["phone"],
        "l": before["last_name"],
        "id": cid,
        "bn": f"Customer {cid}",
    }
    async with executor.engine.connect() as conn:
        for table, sql in checks.items():
            left = (await conn.execute(text(sql), params)).scalar_one()
            if left:
                raise AssertionError(f"subject {cid}: {left} row(s) in {table} still identify them")
        kept = (
            await conn.execute(
                text("SELECT count(*) FROM invoice WHERE customer_id = :id"), {"id": cid}
            )
        ).scalar_one()
    if not kept:
        raise AssertionError(f"subject {cid}: invoices were not retained")


async def run(server: PostgresServer, dbname: str, customers: int, rounds: int) -> None:
    from sqlalchemy import text

    engine = create_engine(server.admin_url(dbname))
    cases_url = server.create_database("cases")
    await upgrade_async(cases_url)
    cases = create_engine(cases_url)
    executor = await Executor.open(engine, load_datamap(DATAMAP), RetentionLedger(cases))
    out = Path(tempfile.mkdtemp(prefix="dsr-peer-"))

    async def access(cid: int) -> tuple[float, int]:
        t0 = time.perf_counter()
        subject = await executor.subject(f"customer{cid}@example.com")
        package = await executor.export(subject, out / str(cid))
        return (time.perf_counter() - t0) * 1000, package.rows

    async def erase(cid: int, case_ref: str) -> float:
        t0 = time.perf_counter()
        subject = await executor.subject(f"customer{cid}@example.com")
        plan = await executor.preview_erasure(subject)
        await executor.apply_erasure(plan, case_ref)
        return (time.perf_counter() - t0) * 1000

    access_ids = subjects(customers, 7, 10)
    erase_ids = [c for r in range(rounds) for c in subjects(customers, 5003 + 1000 * r, 10)]
    await access(3)  # warm-up
    access_ms, rows = [], 0
    for _ in range(rounds):
        for cid in access_ids:
            ms, rows = await access(cid)
            access_ms.append(ms)
    await erase(4, "WARMUP")
    erase_ms = []
    async with engine.connect() as conn:
        befores = {
            cid: dict(
                (
                    await conn.execute(
                        text("SELECT phone, last_name FROM customer WHERE id = :id"), {"id": cid}
                    )
                )
                .one()
                ._mapping
            )
            for cid in erase_ids
        }
    for i, cid in enumerate(erase_ids):
        erase_ms.append(await erase(cid, f"PEER-{i}"))
        await verify_erased(executor, cid, befores[cid])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pg_rss = (
        sum(
            p.memory_info().rss
            for p in psutil.process_iter(["username"])
            if p.info["username"] == "postgres"
        )
        / 2**20
    )
    print(f"access export ({rows} rows per subject, {len(access_ids)} subjects x {rounds}):")
    print(f"  {fmt(access_ms)}   [peer: p50 570 ms, p95 710 ms; target p50 <= 57 ms]")
    print(f"erasure (lookup + preview + apply, {len(erase_ms)} subjects, all verified by SQL):")
    print(f"  {fmt(erase_ms)}   [peer: p50 1260 ms, p95 1480 ms; target p50 <= 126 ms]")
    print(f"peak RSS of this process: {peak:.0f} MB   [peer: 1275 MiB; target <= 300 MB]")
    print(f"(PostgreSQL server processes, RSS sum at the end: {pg_rss:.0f} MB, not counted above)")
    await engine.dispose()
    await cases.dispose()
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="access repeats / erasure groups")
    parser.add_argument("--schema", type=Path, default=SCHEMA)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    args = parser.parse_args()
    server = start_postgres()
    try:
        seconds = load(server, "peer", args.customers, args.schema)
        print(
            f"built peer schema with {args.customers:,} customers in {seconds:.0f} s "
            f"(PostgreSQL on port {server.port})",
            flush=True,
        )
        asyncio.run(run(server, "peer", args.customers, args.rounds))
    finally:
        if args.keep:
            print(f"cluster kept at {server.root}")
        else:
            destroy(server)


if __name__ == "__main__":
    main()
