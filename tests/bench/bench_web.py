"""Auditor pages and month report benchmark.

    taskset -c 0 python tests/bench/bench_web.py [--cases 100000] [--month-cases 10000]
        [--backend sqlite|postgresql] [--html FILE]

Seeds `--cases` cases received over a year (with their audit events), then times the auditor's
case list (first page, a deep page, each filter) through the real aiohttp app: the server time
is the handler's own (its Server-Timing header covers the queries; the wall time adds rendering
and the loopback hop). Then seeds a second store with `--month-cases` cases received in
November 2026 and times `dsr report --month 2026-11` (load, verify the chain, render the HTML).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.http import build_app
from bot.settings import load_settings
from bot.web import install_audit
from bot.work.desk import Desk
from storage import audit
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.web_seed import seed

TOKEN = "bench-token-0123456789abcdef-0123456"
KEY = b"bench-web-key-0123456789abcdef01234"
QUERIES = [
    "",
    "?page=1000",
    "?state=done",
    "?state=rejected&page=20",
    "?intent=erasure",
    "?language=de&channel=email",
    "?overdue=1",
    "?from=2026-03-01&until=2026-03-31",
]


async def _ok() -> bool:
    return True


async def time_case_list(url: str, tmp: Path) -> None:
    settings = load_settings(
        database_url=url, audit_token=TOKEN, audit_key=KEY.decode(), audit_head_file=tmp / "h"
    )
    engine = create_engine(url)
    desk = Desk(settings, engine, session_factory(engine), None, None, b"k" * 32)  # type: ignore[arg-type]
    app = build_app(_ok)
    install_audit(app, desk)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with TestClient(TestServer(app)) as client:
        for query in QUERIES:
            server, wall = [], []
            for _ in range(7):
                t0 = time.perf_counter()
                r = await client.get("/audit/" + query, headers=headers)
                await r.read()
                wall.append((time.perf_counter() - t0) * 1000)
                server.append(float(r.headers["Server-Timing"].split("dur=")[1]))
                assert r.status == 200, query
            label = query or "(first page)"
            print(
                f"case list {label:<36} queries {statistics.median(server):7.1f} ms"
                f"   request {statistics.median(wall):7.1f} ms (median of 7)"
            )
    await engine.dispose()


async def time_month(url: str, tmp: Path, html: Path | None) -> None:
    from bot.cli.month import load_month, render_month

    t0 = time.perf_counter()
    report, chain = await load_month(url, "2026-11", tmp / "h")
    rendered = render_month(report, chain)
    elapsed = time.perf_counter() - t0
    assert chain.result.ok, chain.result.reason
    print(f"month report: {report.total:,} cases, {chain.result.count:,} events: {elapsed:.2f} s")
    if html is not None:
        await asyncio.to_thread(html.write_text, rendered, encoding="utf-8")
        print(f"wrote {html}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--month-cases", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--html", type=Path, default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dsr-bench-web-"))
    server: Any = None
    if args.backend == "postgresql":
        from tests.servers.postgres import start_postgres

        server = start_postgres()
    try:
        urls = []
        for name in ("list", "month"):
            url = (
                server.create_database(name)
                if server is not None
                else f"sqlite+aiosqlite:///{tmp / name}.db"
            )
            upgrade(url)
            urls.append(url)
        audit.use_key(KEY)
        t0 = time.perf_counter()
        asyncio.run(seed(create_engine(urls[0]), args.cases, days=365, key=KEY))
        print(f"seeded {args.cases:,} cases in {time.perf_counter() - t0:.1f} s ({args.backend})")
        asyncio.run(time_case_list(urls[0], tmp))
        start = datetime(2026, 11, 1, tzinfo=UTC)
        asyncio.run(seed(create_engine(urls[1]), args.month_cases, start=start, key=KEY))
        asyncio.run(time_month(urls[1], tmp, args.html))
    finally:
        if server is not None:
            from tests.servers.postgres import destroy

            destroy(server)


if __name__ == "__main__":
    main()
