"""The auditors' pages (bot/web): nothing without the token, filters and pages, a timeline with
customer text escaped, receipts, the chain page, exports; `/metrics`, `/healthz`, `/readyz`."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.http import build_app, mark_ready
from bot.settings import load_settings
from bot.web import install_audit, install_metrics
from bot.work.desk import Desk
from storage import audit
from storage.anchors import append_head
from storage.db import create_engine, session_factory
from tests.web_seed import XSS, seed

TOKEN = "auditor-token-0123456789abcdef-0123"
KEY = b"web-audit-key-0123456789abcdef0123"
PROTECTED = [
    "/audit",
    "/audit/",
    "/audit/cases?state=done",
    "/audit/cases/DSR-1",
    "/audit/cases/DSR-1/receipt",
    "/audit/chain",
    "/audit/export.csv",
    "/audit/export.jsonl?case=DSR-1",
    "/audit/logout",
]


def _desk(url: str, tmp_path: Path, **settings: Any) -> Desk:
    values: dict[str, Any] = {
        "database_url": url,
        "audit_token": TOKEN,
        "audit_key": KEY.decode(),
        "audit_head_file": tmp_path / "heads.jsonl",
    }
    values.update(settings)
    s = load_settings(**values)
    engine = create_engine(url)
    # the pages never touch the executor or the model
    return Desk(s, engine, session_factory(engine), None, None, b"k" * 32)  # type: ignore[arg-type]


@pytest.fixture
async def client(case_store_url: str, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    desk = _desk(case_store_url, tmp_path)
    await seed(desk.engine, 120, key=KEY)
    app = build_app(_ok)
    install_audit(app, desk)
    install_metrics(app, desk)
    token = audit.use_key(KEY)
    async with TestClient(TestServer(app)) as c:
        yield c
    audit.reset_key(token)
    await desk.engine.dispose()


async def _ok() -> bool:
    return True


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_nothing_is_served_without_the_token(client: TestClient[Any, Any]) -> None:
    basic = base64.b64encode(f"auditor:{TOKEN}".encode()).decode()
    wrong = base64.b64encode(b"auditor:wrong").decode()
    for path in PROTECTED:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {wrong}"}):
            r = await client.get(path, headers=headers, allow_redirects=False)
            assert r.status == 401, path
            assert "DSR-" not in await r.text()
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        r = await client.get(path, headers={"Accept": "text/html"}, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"] == "/audit/login"
        for headers in (BEARER, {"Authorization": f"Basic {basic}"}):
            r = await client.get(path, headers=headers, allow_redirects=False)
            assert r.status in (200, 303), path
    r = await client.get("/audit/login")
    assert r.status == 200 and "DSR-" not in await r.text()
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


async def test_login_form_sets_a_session_cookie(client: TestClient[Any, Any]) -> None:
    r = await client.post("/audit/login", data={"token": "wrong"}, allow_redirects=False)
    assert r.status == 401
    r = await client.post("/audit/login", data={"token": TOKEN}, allow_redirects=False)
    assert r.status == 303
    cookie = r.cookies["dsr_audit"]
    assert TOKEN not in cookie.value and cookie["httponly"] and cookie["samesite"] == "Strict"
    r = await client.get("/audit/")
    assert r.status == 200 and "Cases" in await r.text()


async def test_filters_and_pages(client: TestClient[Any, Any]) -> None:
    r = await client.get("/audit/", headers=BEARER)
    page = await r.text()
    assert "Page 1 of 3" in page and "(120)" in page and 'id="next"' in page
    assert "db;dur=" in r.headers["Server-Timing"]
    r = await client.get("/audit/?state=rejected&page=1", headers=BEARER)
    rejected = await r.text()
    assert "No case matches" not in rejected
    assert all("rejected" in row for row in rejected.split("<tr>")[2:] if "/audit/cases/" in row)
    r = await client.get("/audit/?intent=erasure&language=de&channel=email", headers=BEARER)
    assert r.status == 200
    r = await client.get("/audit/?overdue=1", headers=BEARER)
    assert r.status == 200
    r = await client.get("/audit/?state=nonsense", headers=BEARER)
    assert r.status == 400 and "state must be one of" in await r.text()
    r = await client.get("/audit/?from=yesterday", headers=BEARER)
    assert r.status == 400


async def test_customer_text_is_escaped(client: TestClient[Any, Any], case_store_url: str) -> None:
    from sqlalchemy import text

    engine = create_engine(case_store_url)
    async with engine.connect() as conn:
        ref_id = (
            await conn.execute(text("SELECT id FROM dsr_case WHERE extension_reason IS NOT NULL"))
        ).scalar()
    await engine.dispose()
    r = await client.get(f"/audit/cases/DSR-{ref_id}", headers=BEARER)
    body = await r.text()
    assert XSS not in body and "<script>alert" not in body
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in body


async def test_timeline_export_and_receipt(
    client: TestClient[Any, Any], case_store_url: str, tmp_path: Path
) -> None:
    r = await client.get("/audit/cases/DSR-7", headers=BEARER)
    timeline = await r.text()
    assert "case_received" in timeline and "customer:p" in timeline
    r = await client.get("/audit/export.csv?case=DSR-7", headers=BEARER)
    assert r.headers["Content-Disposition"] == 'attachment; filename="audit-DSR-7.csv"'
    rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert rows and {row["case_ref"] for row in rows} == {"DSR-7"}
    r = await client.get("/audit/export.jsonl?case=DSR-7", headers=BEARER)
    lines = [json.loads(line) for line in (await r.text()).splitlines()]
    assert [line["hash"] for line in lines] == [row["hash"] for row in rows]
    r = await client.get("/audit/cases/DSR-7/receipt", headers=BEARER)
    receipt = await r.text()
    digest = hashlib.sha256("".join(f"{row['hash']}\n" for row in rows).encode()).hexdigest()
    assert digest in receipt and "Not anchored yet" in receipt
    engine = create_engine(case_store_url)
    head = await audit.chain_head(engine)
    await engine.dispose()
    assert head is not None
    append_head(tmp_path / "heads.jsonl", KEY, head[0], head[1], audit.now_ts())
    r = await client.get("/audit/cases/DSR-7/receipt", headers=BEARER)
    assert f"{head[0]}:{head[1]}" in await r.text()
    r = await client.get("/audit/chain", headers=BEARER)
    chain = await r.text()
    assert (
        f"verified up to event {head[0]}" in chain and "Keyed (HMAC-SHA-256) from event 1" in chain
    )
    r = await client.get("/audit/cases/DSR-99999", headers=BEARER)
    assert r.status == 404


async def test_pages_are_off_without_a_token(case_store_url: str, tmp_path: Path) -> None:
    desk = _desk(case_store_url, tmp_path, audit_token=None)
    app = build_app(_ok)
    install_audit(app, desk)
    async with TestClient(TestServer(app)) as c:
        for path in ("/audit/", "/audit/login"):
            r = await c.get(path, headers=BEARER)
            assert r.status == 403 and "DSR_AUDIT_TOKEN" in await r.text()
    await desk.engine.dispose()


async def test_metrics(client: TestClient[Any, Any]) -> None:
    r = await client.get("/metrics")
    body = await r.text()
    for name in (
        'dsr_cases{state="done"}',
        'dsr_outbox_backlog{kind="mail"} 0.0',
        "dsr_outbox_oldest_unsent_mail_age_seconds 0.0",
        "dsr_oldest_open_case_age_seconds",
        "dsr_nearest_due_days",
        'dsr_classifier_confidence_bucket{le="0.5"}',
        "dsr_classifier_confidence_count 120.0",
        "dsr_verification_refusals_total",
    ):
        assert name in body, name


async def test_healthz_names_the_failing_component_and_readyz_waits() -> None:
    async def imap_down() -> tuple[bool, str]:
        return False, "cannot connect (ConnectionRefusedError)"

    async def smtp_up() -> tuple[bool, str]:
        return True, "reachable"

    app: web.Application = build_app(_ok, {"imap": imap_down, "smtp": smtp_up})
    async with TestClient(TestServer(app)) as c:
        r = await c.get("/healthz")
        body = await r.json()
        assert r.status == 503 and body["ok"] is False
        assert body["checks"]["imap"]["ok"] is False and body["checks"]["smtp"]["ok"] is True
        assert body["checks"]["database"] == {"ok": True}
        assert (await c.get("/readyz")).status == 503
        mark_ready(app)
        assert (await c.get("/readyz")).status == 200


def test_public_api_is_pinned() -> None:
    import bot.web

    assert bot.web.__all__ == ["install_audit", "install_metrics"]
