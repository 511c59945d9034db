"""`dsr report --month`: one self-contained HTML file with inline SVG charts and every figure the
issue names; `dsr report` prints the audit head."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.case.report import MonthEvents, summarise_month
from bot.cli.main import app
from bot.cli.month import month_bounds
from bot.errors import SettingsError
from storage.db import create_engine
from tests.web_seed import seed

runner = CliRunner()
KEY = "month-key-0123456789abcdef0123456789"


def test_month_file_is_self_contained(case_store_url: str, tmp_path: Path) -> None:
    from storage import audit

    async def fill() -> None:
        engine = create_engine(case_store_url)
        await seed(engine, 300, start=datetime(2026, 11, 1, tzinfo=UTC), key=KEY.encode())
        await engine.dispose()

    asyncio.run(fill())
    out = tmp_path / "nov.html"
    env = {"DSR_DATABASE_URL": case_store_url, "DSR_AUDIT_KEY": KEY}
    result = runner.invoke(app, ["report", "--month", "2026-11", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert "300 requests received in 2026-11" in result.output
    html = out.read_text()
    assert html.count("<svg") == 6
    assert "<script" not in html and not re.search(r'(src|href)="https?:', html)
    for words in (
        "Requests by intent",
        "Requests by channel",
        "Requests by language",
        "Days to close (the deadline is one month)",
        "open and overdue",
        "extended",
        "Rejections by reason",
        "Verification outcomes",
        "Recipients told of a rectification or erasure (Art. 19): 0.",
        "Retention purges: not tracked yet",
        "Verified intact up to event",
    ):
        assert words in html, words
    result = runner.invoke(app, ["report"], env=env)
    assert result.exit_code == 0 and "audit head: " in result.output
    assert audit.GENESIS not in result.output


def test_month_needs_out_and_a_real_month(case_store_url: str) -> None:
    env = {"DSR_DATABASE_URL": case_store_url}
    result = runner.invoke(app, ["report", "--month", "2026-11"], env=env)
    assert result.exit_code == 2 and "--month and --out go together" in result.output
    with pytest.raises(SettingsError, match="--month must look like 2026-11"):
        month_bounds("Nov 2026")
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))


def test_summary_counts_deadlines_and_untracked_figures() -> None:
    report = summarise_month(
        "2026-11", [], MonthEvents({"case_reject": 2}, {"duplicate": 2}), date(2026, 12, 4)
    )
    assert report.total == 0
    assert report.recipients_told == 0 and report.retention_purges is None
    assert report.reject_reasons == {"duplicate": 2}
    told = summarise_month(
        "2026-11",
        [],
        MonthEvents(
            {
                "recipient_task_opened": 3,
                "recipient_task_sent": 2,
                "recipient_task_acknowledged": 2,
                "recipient_task_done_by_hand": 1,
            }
        ),
        date(2026, 12, 4),
    )
    assert told.recipients_told == 3  # sent, or told by hand; opening or an answer is no telling
