"""The auditor pages in a real browser (Debian's headless chromium through Selenium and the
system chromedriver): log in, filter, open a timeline, download its CSV; customer text shows as
text, never runs; nothing is served without the token."""

from __future__ import annotations

import asyncio
import csv
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.http import build_app
from bot.settings import load_settings
from bot.web import install_audit
from bot.work.desk import Desk
from storage import audit
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.servers.chromium import browser, require_chromium
from tests.web_seed import XSS, seed

TOKEN = "browser-token-0123456789abcdef-01234"
KEY = b"browser-key-0123456789abcdef-012345"


async def _ok() -> bool:
    return True


def _browse(base: str, downloads: Path, xss_ref: str) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    with browser(downloads) as driver:
        wait = WebDriverWait(driver, 20)
        driver.get(base + "/audit/")
        assert driver.current_url.endswith("/audit/login")  # sent to the form, no data shown
        assert "DSR-" not in driver.page_source
        driver.find_element(By.ID, "token").send_keys("not-the-token")
        driver.find_element(By.ID, "login").click()
        error = wait.until(ec.presence_of_element_located((By.ID, "login-error")))
        assert error.text == "That token is not right."
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.find_element(By.ID, "login").click()
        wait.until(ec.presence_of_element_located((By.ID, "cases")))
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith("Cases (60)")

        Select(driver.find_element(By.ID, "state")).select_by_value("rejected")
        driver.find_element(By.ID, "apply").click()
        wait.until(ec.url_contains("state=rejected"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#cases tbody tr")
        assert rows and all(r.find_elements(By.TAG_NAME, "td")[1].text == "rejected" for r in rows)

        link = rows[0].find_element(By.TAG_NAME, "a")
        ref = link.text
        link.click()
        wait.until(ec.presence_of_element_located((By.ID, "timeline")))
        assert driver.find_element(By.TAG_NAME, "h1").text.startswith(ref)
        actions = [
            tr.find_elements(By.TAG_NAME, "td")[3].text
            for tr in driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
        ]
        assert actions[0] == "case_received" and "case_reject" in actions

        driver.find_element(By.ID, "csv").click()
        target = downloads / f"audit-{ref}.csv"
        deadline = time.monotonic() + 20
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with target.open(encoding="utf-8") as fh:
            exported = list(csv.DictReader(fh))
        assert [row["action"] for row in exported] == actions
        assert {row["case_ref"] for row in exported} == {ref}

        driver.get(f"{base}/audit/cases/{xss_ref}")
        assert driver.find_element(By.ID, "extension").text == XSS  # shown as text
        assert not driver.find_elements(By.CSS_SELECTOR, "#extension script, #extension b")
        with pytest.raises(NoAlertPresentException):
            _ = driver.switch_to.alert.text

        driver.get(base + "/audit/logout")
        driver.get(base + "/audit/chain")
        wait.until(ec.url_contains("/audit/login"))


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_auditor_in_a_browser(tmp_path: Path) -> None:
    require_chromium()
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = load_settings(
        database_url=url,
        audit_token=TOKEN,
        audit_key=KEY.decode(),
        audit_head_file=tmp_path / "heads.jsonl",
    )
    engine = create_engine(url)
    desk: Any = Desk(settings, engine, session_factory(engine), None, None, b"k" * 32)  # type: ignore[arg-type]
    await seed(engine, 60, key=KEY)
    async with engine.connect() as conn:
        from sqlalchemy import text

        xss_id = (
            await conn.execute(text("SELECT id FROM dsr_case WHERE extension_reason IS NOT NULL"))
        ).scalar()
    assert xss_id is not None
    app = build_app(_ok)
    install_audit(app, desk)
    token = audit.use_key(KEY)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        base = str(server.make_url("")).rstrip("/")
        for path in ("/audit/", "/audit/chain", f"/audit/cases/DSR-{xss_id}", "/audit/export.csv"):
            assert await asyncio.to_thread(_status, base + path) == 401
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        await asyncio.to_thread(_browse, base, downloads, f"DSR-{xss_id}")
    finally:
        await server.close()
        audit.reset_key(token)
        await engine.dispose()
