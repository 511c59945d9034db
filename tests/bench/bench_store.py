"""Issue 3 benchmark: the reference store on SQLite with 1,000,000 customers.

Measures subject lookup (p50 target < 5 ms), the access package of a customer with 100,000
activity-log rows (< 2 s, peak RSS < 300 MB) and erasure preview + apply of typical customers
(< 200 ms). Seeding runs in a child process so the peak RSS reported is the measuring process's.

    python tests/bench/bench_store.py [--customers 1000000] [--db PATH] [--lookups 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from storage.customer import Executor  # noqa: E402
from storage.customer.seed import seed  # noqa: E402
from storage.datamap import load_datamap  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.retention import RetentionLedger  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):.2f} ms  p95 {pct(values, 0.95):.2f} ms  (n={len(values)})"


async def build(db: Path, customers: int, heavy_rows: int, seed_value: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    t0 = time.perf_counter()
    ids = await seed(engine, customers, seed_value=seed_value)
    t1 = time.perf_counter()
    heavy = ids.stop
    now = datetime(2026, 11, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO customer (id, handle, username, email, name, country, marketing_consent,"
            " created_at) VALUES (?, ?, ?, ?, ?, 'DE', 0, ?)",
            (
                heavy,
                f"C{heavy:08d}",
                f"heavy{heavy}",
                f"heavy{heavy}@example.com",
                "Heavy User",
                "2020-01-01 00:00:00.000000",
            ),
        )
        rows = [
            (
                heavy,
                (now - timedelta(minutes=i * 7)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                f"198.51.100.{i % 250 + 1}",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
                "login",
            )
            for i in range(heavy_rows)
        ]
        await conn.exec_driver_sql(
            "INSERT INTO activity_log (customer_id, occurred_at, ip_address, user_agent, action)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    async with engine.connect() as conn:
        counts = {
            t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in ("customer", "activity_log", "invoice", "newsletter_subscription")
        }
    await engine.dispose()
    print(f"seeded {customers:,} customers in {t1 - t0:.1f} s; rows: {counts}", flush=True)


async def measure(db: Path, lookups: int, erasures: int, run_seed: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    work = Path(tempfile.mkdtemp(prefix="dsr-bench-store-"))
    cases_url = f"sqlite+aiosqlite:///{work / 'cases.db'}"
    await upgrade_async(cases_url)
    cases = create_engine(cases_url)
    executor = await Executor.open(
        engine, load_datamap(ROOT / "storage/datamap.yaml"), RetentionLedger(cases)
    )
    rng = random.Random(run_seed)
    async with engine.connect() as conn:
        top = (await conn.execute(text("SELECT max(id) FROM customer"))).scalar_one()
        sample = rng.sample(range(1, top), min(lookups + erasures * 3, top - 1))
        ids = ",".join(map(str, sample))
        people = (
            await conn.execute(
                text(
                    f"SELECT id, email, username, handle FROM customer WHERE id IN ({ids}) "
                    "AND email IS NOT NULL"
                )
            )
        ).all()
    rng.shuffle(people)
    lookup_people, erase_people = people[:lookups], people[lookups : lookups + erasures]

    for _, email, _, _ in lookup_people[:50]:  # warm-up
        await executor.subject(email)
    subject_ms, find_ms = [], []
    for i, (_, email, username, handle) in enumerate(lookup_people):
        identity = (email, username, handle)[i % 3]
        t0 = time.perf_counter()
        await executor.subject(identity)
        subject_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await executor.find(identity)
        find_ms.append((time.perf_counter() - t0) * 1000)
    print(f"subject lookup (by e-mail/username/handle): {fmt(subject_ms)}")
    print(f"find with row counts per table:             {fmt(find_ms)}")

    rss_before = psutil.Process().memory_info().rss
    t0, c0 = time.perf_counter(), time.process_time()
    subject = await executor.subject(f"C{top:08d}")
    package = await executor.export(subject, work / "export")
    export_s, export_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"access package, {package.rows:,} rows: {export_s:.2f} s "
        f"(CPU {export_cpu:.2f} s; load average {os.getloadavg()[0]:.1f}); "
        f"json {package.json_path.stat().st_size / 1e6:.1f} MB, "
        f"html {package.html_path.stat().st_size / 1e6:.1f} MB; peak RSS {peak:.0f} MB "
        f"(RSS before export {rss_before / 2**20:.0f} MB)"
    )

    erase_ms = []
    for i, (_, email, _, _) in enumerate(erase_people):
        t0 = time.perf_counter()
        plan = await executor.preview_erasure(await executor.subject(email))
        await executor.apply_erasure(plan, f"BENCH-{run_seed}-{i}")
        erase_ms.append((time.perf_counter() - t0) * 1000)
    print(f"erasure lookup + preview + apply (typical):  {fmt(erase_ms)}")
    await engine.dispose()
    await cases.dispose()
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="reused when it exists")
    parser.add_argument("--heavy-rows", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--erasures", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-seed", type=int, default=None, help="picks the sampled customers")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    db = args.db or Path(tempfile.gettempdir()) / f"dsr-bench-store-{args.customers}.db"
    if args.build_only:
        asyncio.run(build(db, args.customers, args.heavy_rows, args.seed))
        return
    if not db.exists():
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--build-only",
                "--customers",
                str(args.customers),
                "--db",
                str(db),
                "--heavy-rows",
                str(args.heavy_rows),
                "--seed",
                str(args.seed),
            ],
            check=True,
        )
    print(f"store: {db} ({db.stat().st_size / 1e9:.2f} GB)")
    run_seed = args.run_seed if args.run_seed is not None else int(time.time())
    asyncio.run(measure(db, args.lookups, args.erasures, run_seed))


if __name__ == "__main__":
    main()
