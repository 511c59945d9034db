"""`dsr cases` and `dsr report` on a real case store: list, show, extend, reclassify, reject."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.build import open_desk
from bot.case.report import summarise
from bot.cli.main import app
from bot.settings import load_settings
from bot.work.intake import ingest
from bot.work.pipeline import advance_due
from mail.intake import Fetched
from storage.customer.importer import import_customers
from storage.db import create_engine
from storage.models import Case
from tests.agent_harness import CUSTOMERS, SECRET, letter

runner = CliRunner()


@pytest.fixture
def env(case_store_url: str, tmp_path: Path) -> dict[str, str]:
    customers = f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}"
    values = {
        "DSR_DATABASE_URL": case_store_url,
        "DSR_CUSTOMER_DATABASE_URL": customers,
        "DSR_SECRET_KEY": SECRET,
    }

    async def setup() -> None:
        engine = create_engine(customers)
        await import_customers(engine, [json.dumps(c) for c in CUSTOMERS])
        await engine.dispose()
        settings = load_settings(
            database_url=case_store_url, customer_database_url=customers, secret_key=SECRET
        )
        async with open_desk(settings, packages_dir=tmp_path / "pk") as desk:
            await ingest(
                desk,
                Fetched(
                    letter(
                        "alice@example.org", "data", "Please send me a copy of my personal data."
                    ),
                    source="test",
                ),
            )
            await advance_due(desk)

    asyncio.run(setup())
    return values


def _run(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_list_show_extend_reclassify_reject(env: dict[str, str]) -> None:
    listed = _run(env, "cases", "list")
    assert "DSR-1" in listed and "awaiting_verification" in listed and "see" in listed
    shown = _run(env, "cases", "show", "DSR-1")
    assert "case_classify" in shown and "subject     found" in shown
    assert "requester   alice@example.org" in shown  # staff see who asked (issue #15)
    assert "    | Please send me a copy of my personal data." in shown
    extended = _run(
        env,
        "cases",
        "extend",
        "DSR-1",
        "--months",
        "2",
        "--reason",
        "complex request spanning several systems",
    )
    assert "now due" in extended
    reclassified = _run(env, "cases", "reclassify", "DSR-1", "see,delete", "--actor", "dpo")
    assert "see, delete" in reclassified
    rejected = _run(env, "cases", "reject", "DSR-1", "--reason", "duplicate of DSR-7")
    assert "rejected" in rejected
    assert "rejected" in _run(env, "cases", "list", "--all")
    report = json.loads(_run(env, "report", "--json"))
    assert report["total"] == 1 and report["extended"] == 1


def test_errors_are_clear_and_change_nothing(env: dict[str, str]) -> None:
    for args, expected in (
        (["cases", "show", "DSR-99"], "no case DSR-99"),
        (["cases", "extend", "DSR-1", "--reason", "x"], "needs a reason"),
        (["cases", "reclassify", "DSR-1", "frobnicate"], "intents must be some of"),
        (["cases", "approve", "nonsense"], "not a case reference"),
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code != 0, args
        assert expected in result.output, (args, result.output)
    assert "awaiting_verification" in _run(env, "cases", "list")


def test_report_counts_overdue_and_late() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    cases = [
        Case(
            id=1,
            state="awaiting_approval",
            intents=["see"],
            due_on=date(2026, 2, 1),
            received_at=now - timedelta(days=40),
        ),
        Case(
            id=2,
            state="done",
            intents=["delete"],
            due_on=date(2026, 2, 1),
            received_at=now - timedelta(days=40),
            closed_at=now,
        ),
        Case(
            id=3,
            state="done",
            intents=["see"],
            due_on=date(2026, 4, 1),
            received_at=now - timedelta(days=2),
            closed_at=now,
        ),
    ]
    report = summarise(cases, date(2026, 3, 1))
    assert report.open_overdue == ["DSR-1"] and report.closed_late == ["DSR-2"]
    assert report.by_intent == {"see": 2, "delete": 1}
    assert report.median_days_to_close == 21.0


def test_recipient_tasks_are_shown_and_marked_done_by_hand(
    env: dict[str, str], case_store_url: str
) -> None:
    from bot.case import store
    from storage.models import RecipientTask, TaskStatus

    async def add_task() -> None:
        engine = create_engine(case_store_url)
        from storage.db import session_factory

        async with session_factory(engine)() as session, session.begin():
            await store.add_recipient_task(
                session,
                RecipientTask(
                    case_id=1,
                    recipient_key="yandex-metrica",
                    recipient_name="Yandex Metrica (Yandex LLC)",
                    action="erasure",
                    channel="manual",
                    status=TaskStatus.BY_HAND,
                ),
            )
        await engine.dispose()

    asyncio.run(add_task())
    shown = _run(env, "cases", "show", "DSR-1")
    assert "recipients (Art. 19)" in shown
    assert "Yandex Metrica (Yandex LLC) — erasure, no contact: to do by hand" in shown
    done = _run(env, "cases", "recipient-done", "DSR-1", "yandex-metrica", "--actor", "dpo")
    assert "marked done by hand" in done
    shown = _run(env, "cases", "show", "DSR-1")
    assert "done by hand (cli:dpo)" in shown and "recipient_task_done_by_hand" in shown
    missing = runner.invoke(app, ["cases", "recipient-done", "DSR-1", "nobody"], env=env)
    assert missing.exit_code == 2 and "no recipient task 'nobody'" in missing.output
