"""Several processes appending at once never fork or break the chain."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from storage import audit
from storage.db import create_engine
from storage.migrate import upgrade
from tests.servers.postgres import PostgresServer

ROOT = Path(__file__).resolve().parent.parent


def _run_writers(url: str, per_process: int, processes: int = 2) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.audit_writer", url, str(per_process), f"writer:{i}"],
            cwd=ROOT,
        )
        for i in range(processes)
    ]
    for proc in procs:
        assert proc.wait(timeout=600) == 0


async def _verify(url: str) -> audit.VerifyResult:
    engine = create_engine(url)
    try:
        return await audit.verify(engine)
    finally:
        await engine.dispose()


def test_two_postgres_processes_append_10000_each(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("conc")
    upgrade(url)
    _run_writers(url, 10_000)
    result = asyncio.run(_verify(url))
    assert result.ok, result.reason
    assert result.count == 20_000
    by_actor = postgres_server.psql(
        "SELECT actor, count(*) FROM audit_event GROUP BY actor ORDER BY actor",
        url.rsplit("/", 1)[1],
    )
    assert by_actor.split() == ["writer:0|10000", "writer:1|10000"]


@pytest.mark.parametrize("per_process", [500])
def test_two_sqlite_processes_append(tmp_path: Path, per_process: int) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'conc.db'}"
    upgrade(url)
    _run_writers(url, per_process)
    result = asyncio.run(_verify(url))
    assert result.ok, result.reason
    assert result.count == 2 * per_process
