"""Issue 15 benchmark: `dsr` commands as whole processes, start-up included, on the peer's own
100,000-customer PostgreSQL database (../shared/bench/peer-schema.sql, ~6.65 million rows).

Times `dsr --help`, `dsr store export` (the access package) and `dsr store erase --apply` (and
`dsr cases list`, `dsr cases show`, `dsr audit verify` on the bench's small case store) as an
operator runs them — a fresh `dsr` process each time, one at a time, after one warm-up each —
for the peer's subjects (access 7, 10007, …; erasure 5003, 15003, …), and checks every erasure
by SQL. The peer's warm server took 0.57 s (access) and 1.26 s (erasure) p50 on this database.

    python tests/bench/bench_cli.py [--customers 100000] [--rounds 3] [--keep | --reuse PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.bench.bench_peer import (  # noqa: E402
    DATAMAP,
    SCHEMA,
    fmt,
    load,
    pct,
    subjects,
    verify_erased,
)
from tests.servers.postgres import destroy, start_postgres  # noqa: E402

DSR = str(Path(sys.executable).with_name("dsr"))


#: CPU milliseconds (user + system) of each timed process, by its first two arguments: on a
#: machine shared with other jobs this moves far less than the wall clock.
CPU: dict[str, list[float]] = {}


def timed(args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    """Wall-clock milliseconds of one `dsr` process; fails loudly on an exit code not in `ok`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([DSR, *args], env=env, capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    CPU.setdefault(" ".join(args[:2]), []).append(cpu)
    if proc.returncode not in ok:
        raise RuntimeError(f"dsr {' '.join(args)} exited {proc.returncode}: {proc.stderr[-800:]}")
    return ms


async def _before(url: str, ids: list[int]) -> dict[int, dict[str, object]]:
    from sqlalchemy import text

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            sql = text("SELECT phone, last_name FROM customer WHERE id = :id")
            return {i: dict((await conn.execute(sql, {"id": i})).one()._mapping) for i in ids}
    finally:
        await engine.dispose()


async def _verify(url: str, befores: dict[int, dict[str, object]]) -> None:
    from storage.customer import Executor
    from storage.datamap import load_datamap
    from storage.retention import RetentionLedger

    engine = create_engine(url)
    try:
        executor = await Executor.open(engine, load_datamap(DATAMAP), RetentionLedger(engine))
        for cid, before in befores.items():
            await verify_erased(executor, cid, before)
    finally:
        await engine.dispose()


def compile_bytecode() -> None:
    """Compile our packages' bytecode, as installing a wheel does. This machine sets
    PYTHONDONTWRITEBYTECODE=1, so without it an editable checkout recompiles every module of
    ours in every process (40-50 ms of a `dsr store` command): not what an operator runs."""
    for package in ("bot", "storage", "mail", "intents"):
        compileall.compile_dir(ROOT / package, quiet=1)


def run(peer_url: str, cases_url: str, customers: int, rounds: int, erase_from: int = 5003) -> None:
    compile_bytecode()
    out = Path(tempfile.mkdtemp(prefix="dsr-cli-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DSR_")},
        "DSR_DATABASE_URL": cases_url,
        "DSR_CUSTOMER_DATABASE_URL": peer_url,
        "DSR_DATAMAP": str(DATAMAP),
        "DSR_SECRET_KEY": "bench-secret-key-0123456789abcdef-0123456789",
    }
    timed(["--help"], env)
    helps = [timed(["--help"], env) for _ in range(10 * rounds)]
    access_ids = subjects(customers, 7, 10)
    erase_ids = [c for r in range(rounds) for c in subjects(customers, erase_from + 1000 * r, 10)]
    timed(["store", "export", "customer3@example.com", "--out", str(out / "w")], env)
    exports = [
        timed(["store", "export", f"customer{c}@example.com", "--out", str(out / str(c))], env)
        for _ in range(rounds)
        for c in access_ids
    ]
    befores = asyncio.run(_before(peer_url, erase_ids))
    timed(["store", "erase", f"customer{erase_from - 999}@example.com", "--apply"], env)
    erasures = [
        timed(["store", "erase", f"customer{c}@example.com", "--apply"], env) for c in erase_ids
    ]
    asyncio.run(_verify(peer_url, befores))
    # The staff's other brief commands, on the same (small) case store: its audit log holds the
    # events of the runs above; it has no cases, so `cases show` ends in "no such case" (exit 2).
    others = {
        "cases list": (["cases", "list"], (0,)),
        "cases show": (["cases", "show", "DSR-1"], (2,)),
        "audit verify": (["audit", "verify"], (0,)),
    }
    brief: dict[str, list[float]] = {}
    for name, (args, ok) in others.items():
        timed(args, env, ok)
        brief[name] = [timed(args, env, ok) for _ in range(10 * rounds)]
    python = [timed_python() for _ in range(10)]
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"python -c pass (interpreter start):  p50 {pct(python, 0.5):7.2f} ms")
    print(f"dsr --help:                           {fmt(helps)}   [target p50 <= 300 ms]")
    print(f"dsr store export (whole process):     {fmt(exports)}   [target p50 <= 400 ms]")
    print(f"dsr store erase --apply (verified):   {fmt(erasures)}   [target p50 <= 400 ms]")
    print("  [peer's warm server, same data: access p50 570 ms, erasure p50 1260 ms]")
    for name, values in brief.items():
        print(f"dsr {name + ':':33s}{fmt(values)}   [target p50 <= 300 ms]")
    for name, values in CPU.items():
        print(f"  CPU (user+sys) of `dsr {name}`: p50 {pct(values, 0.5):7.2f} ms (n={len(values)})")
    shutil.rmtree(out, ignore_errors=True)


def _fresh_database(admin_url: str, name: str) -> None:
    async def go() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            await engine.dispose()

    asyncio.run(go())


def timed_python() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="export repeats / erasure groups")
    parser.add_argument("--schema", type=Path, default=SCHEMA)
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument(
        "--reuse",
        metavar="PORT",
        type=int,
        help="time against the peer database a `--keep` run left on this port (no rebuild)",
    )
    parser.add_argument(
        "--erase-from",
        type=int,
        default=5003,
        help="first erased subject (a reused database needs subjects not erased before)",
    )
    args = parser.parse_args()
    if args.reuse:
        base = f"postgresql+asyncpg://postgres@127.0.0.1:{args.reuse}"
        cases_url = f"{base}/cases_reused"
        _fresh_database(f"{base}/postgres", "cases_reused")
        upgrade(cases_url)
        run(f"{base}/peer", cases_url, args.customers, args.rounds, args.erase_from)
        return
    server = start_postgres()
    try:
        seconds = load(server, "peer", args.customers, args.schema)
        print(f"built the peer's schema with {args.customers:,} customers in {seconds:.0f} s")
        cases_url = server.create_database("cases")
        upgrade(cases_url)
        run(server.admin_url("peer"), cases_url, args.customers, args.rounds)
    finally:
        if args.keep:
            print(f"cluster kept at {server.root} (port {server.port})")
        else:
            destroy(server)


if __name__ == "__main__":
    main()
