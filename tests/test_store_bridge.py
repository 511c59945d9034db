# ruff: noqa: F811  (fixtures imported by name)
"""`dsr store` on synchronous Core engines (storage/bridge.py) writes what the desk's async path
reads: the Core ledger's receipts and holds are the ORM ledger's, the audit chain stays one
verifiable keyed chain, and the `dsr` process that ends early keeps its output and exit codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from storage import audit
from storage.bridge import create_bridge, run_now, sync_url
from storage.customer import Executor
from storage.datamap import load_datamap
from storage.db import create_engine
from storage.ledger import CoreLedger, Hold
from storage.retention import RetentionLedger
from tests.agent_harness import SECRET
from tests.test_store_support import customer_engine, customer_url  # noqa: F401

DSR = str(Path(sys.executable).with_name("dsr"))


@pytest.fixture
def env(
    customer_engine: object, customer_url: str, case_store_url: str, tmp_path: Path
) -> Iterator[dict[str, str]]:
    yield {
        "DSR_CUSTOMER_DATABASE_URL": customer_url,
        "DSR_DATABASE_URL": case_store_url,
        "DSR_DATAMAP": "storage/datamap.yaml",
        "DSR_SECRET_KEY": SECRET,
        "DSR_CACHE_DIR": str(tmp_path / "cache"),
    }


def dsr(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_sync_url_swaps_async_drivers() -> None:
    assert sync_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+pysqlite"
    assert sync_url("postgresql+asyncpg://u@h/d").drivername == "postgresql+psycopg2"
    assert sync_url("postgresql://u@h/d").drivername == "postgresql+psycopg2"


def test_run_now_refuses_a_coroutine_that_waits() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited real I/O"):
        run_now(waits())


def test_erasure_for_a_case_is_read_back_by_the_desks_ledger(env: dict[str, str]) -> None:
    """An erasure applied by `dsr store` for a case: the desk's executor on the ORM ledger finds
    the recorded plan, replays instead of erasing again, and sees the holds active; the chain
    verifies with the key."""
    code, out, err = dsr(env, "store", "erase", "alice@example.com", "--apply", "--case", "DSR-7")
    assert code == 0, err
    assert "retained until" in out  # her recent invoice is kept: a hold was written

    async def replay() -> tuple[bool, dict[str, dict[str, int]], list[str]]:
        engine = create_engine(env["DSR_DATABASE_URL"])
        customers = create_engine(env["DSR_CUSTOMER_DATABASE_URL"])
        try:
            ledger = RetentionLedger(engine)
            executor = await Executor.open(
                customers, load_datamap(Path(env["DSR_DATAMAP"])), ledger
            )
            plan = await executor.recorded_erasure("DSR-7")
            assert plan is not None
            result = await executor.apply_erasure(plan, "DSR-7")
            holds = await ledger.open_holds()
            return result.replayed, result.counts, [h.table_name for h in holds]
        finally:
            await customers.dispose()
            await engine.dispose()

    replayed, counts, held = asyncio.run(replay())
    assert replayed and counts["invoice"]["retained"] == 1
    assert "invoice" in held
    code, out, err = dsr(env, "audit", "verify")
    assert code == 0 and "audit log intact" in out, err


def test_core_and_orm_ledgers_write_the_same_hold(env: dict[str, str]) -> None:
    hold = Hold(
        case_ref="DSR-8",
        table_name="invoice",
        link_column="customer_id",
        link_values=[3, 4],
        starts_column="issued_at",
        period="10y",
        legal_basis="Art. 17(3)(b) GDPR",
    )

    async def write_and_read() -> list[object]:
        bridge = create_bridge(env["DSR_DATABASE_URL"])
        await CoreLedger(bridge).begin("DSR-8", "erase", {"tables": []}, [hold])
        await CoreLedger(bridge).finish("DSR-8", "erase", {"counts": {}})
        # a re-run of the case reads the receipt back and records nothing twice
        again = await CoreLedger(bridge).begin("DSR-8", "erase", {"tables": ["x"]}, [hold])
        assert again is not None and again.status == "done"
        assert (again.plan, again.result) == ({"tables": []}, {"counts": {}})
        core_open = await CoreLedger(bridge).open_holds()
        await bridge.dispose()
        engine = create_engine(env["DSR_DATABASE_URL"])
        try:
            orm_open = await RetentionLedger(engine).open_holds()
            receipt = await RetentionLedger(engine).receipt("DSR-8", "erase")
        finally:
            await engine.dispose()
        assert receipt is not None and receipt.status == "done"
        [orm] = orm_open
        [core] = core_open
        assert (orm.id, orm.table_name, orm.link_column, orm.link_values) == (
            core.id,
            "invoice",
            "customer_id",
            [3, 4],
        )
        assert (orm.starts_column, orm.period, orm.active) == ("issued_at", "10y", True)
        return []

    asyncio.run(write_and_read())


def test_the_dsr_process_keeps_output_and_exit_codes(tmp_path: Path) -> None:
    """`dsr store …` ends without the interpreter's teardown: what it prints and its exit code
    are those of the command (0 done, 2 unknown customer), and the audit event is committed."""
    values = {
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dsr.db'}",
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
        "DSR_SECRET_KEY": SECRET,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DSR, *args],
            env={**clean, **values},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for step in (("db", "upgrade"), ("store", "seed", "--customers", "3")):
        assert run(*step).returncode == 0
    found = run("store", "find", "C00000001")
    assert found.returncode == 0 and found.stdout.startswith("account: C00000001\n")
    missing = run("store", "find", "nobody@example.com")
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.startswith("error: no data is held under that identity")
    erased = run("store", "erase", "C00000002", "--apply")
    assert erased.returncode == 0 and erased.stdout.startswith("erasure applied:\n")
    verified = run("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit log intact: 3 events" in verified.stdout  # keying event, find, erase

    async def actions() -> list[str]:
        engine = create_engine(values["DSR_DATABASE_URL"])
        try:
            return [e.action async for e in audit.events(engine)]
        finally:
            await engine.dispose()

    assert asyncio.run(actions()) == ["audit_chain_keyed", "store_find", "store_erased"]
