# ruff: noqa: F811  (fixtures imported by name)
"""The executor on the reference store, on SQLite and PostgreSQL: find, see, delete, change,
unsubscribe, sweep, and idempotency per case."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.customer import AmbiguousSubject, Executor, InvalidChange, SubjectNotFound
from storage.customer.plans import erasure_plan_to_json
from storage.errors import ConcurrentUpdateError
from storage.retention import RetentionHold
from tests.test_store_support import (  # noqa: F401  (fixtures)
    KNOWN_ID,
    NOW,
    case_engine,
    customer_engine,
    customer_url,
    executor,
)


async def scalar(engine: AsyncEngine, sql: str) -> object:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar()


@pytest.mark.parametrize("identity", ["alice@example.com", "Alice@Example.com", "alice.known"])
async def test_find_by_any_identity_key(executor: Executor, identity: str) -> None:
    match = await executor.find(identity)
    assert match.accounts == ("C00001001",)
    counts = {t.table: t.rows for t in match.tables}
    assert counts == {
        "customer": 1,
        "newsletter_subscription": 2,
        "contact_message": 1,
        "tracking_identifier": 1,
        "activity_log": 4,
        "invoice": 2,
        "domain_registration": 1,
    }


async def test_several_accounts_are_all_reported(executor: Executor) -> None:
    match = await executor.find("C00001001")  # Alice's handle and Bob's username
    assert match.ambiguous and sorted(match.accounts) == ["C00001001", "C00001002"]
    with pytest.raises(AmbiguousSubject, match="2 accounts"):
        await executor.subject("C00001001")


async def test_unknown_identity_and_subscriber_without_account(executor: Executor) -> None:
    with pytest.raises(SubjectNotFound):
        await executor.subject("nobody@example.com")
    match = await executor.find("carol@example.com")
    assert match.found and match.accounts == ()
    assert {t.table: t.rows for t in match.tables}["newsletter_subscription"] == 1


async def test_access_package_is_complete_and_escaped(executor: Executor, tmp_path: Path) -> None:
    subject = await executor.subject("alice@example.com")
    package = await executor.export(subject, tmp_path)
    data = json.loads(package.json_path.read_text())
    tables = data["tables"]
    assert tables["customer"]["rows"][0]["name"] == "Alice <script>alert(1)</script> & Co"
    assert "password_hash" not in tables["customer"]["rows"][0]  # described, never copied
    assert len(tables["activity_log"]["rows"]) == 4
    assert tables["domain_registration"]["about"]["held_as_processor_for"]
    assert package.rows == 12
    page = package.html_path.read_text()
    assert "<script>alert" not in page and "<b>there</b>" not in page
    assert html.escape("Alice <script>alert(1)</script> & Co", quote=True) in page
    # Art. 15(1) information per category: purposes, recipients, retention, source, rights.
    for needle in (
        "Measuring the use of our website",
        "Google Analytics",
        "outside the European Economic Area",
        "Twelve months from each entry",
        "Ten years from the invoice date; then deleted (Art. 17(3)(b)",
        "Our servers, when you used our website",
        "Usage data (IP address, browser",
        "as a processor on behalf of",
        "Rectification",
        "Objection",
        "Restriction",
        "supervisory authority",
    ):
        assert needle in page, needle
    assert not list(tmp_path.glob("*.part"))  # noqa: ASYNC240


async def test_erasure_preview_then_apply(
    executor: Executor, customer_engine: AsyncEngine, case_engine: AsyncEngine
) -> None:
    subject = await executor.subject("alice.known")
    plan = await executor.preview_erasure(subject, now=NOW)
    by = {t.table: t for t in plan.tables}
    assert by["newsletter_subscription"].deleted == 2
    assert by["customer"].anonymized == 1
    assert (by["activity_log"].retained, by["activity_log"].deleted) == (2, 2)
    assert (by["invoice"].retained, by["invoice"].deleted) == (1, 1)
    assert by["invoice"].kept_until and by["invoice"].kept_until.year == 2036
    assert by["domain_registration"].action == "processor"
    assert any("retained until 2036" in line for line in plan.lines())
    assert await scalar(customer_engine, "SELECT count(*) FROM newsletter_subscription") == (
        await scalar(customer_engine, "SELECT count(*) FROM newsletter_subscription")
    )
    result = await executor.apply_erasure(plan, "DSR-7")
    assert not result.replayed
    assert await scalar(customer_engine, f"SELECT email FROM customer WHERE id={KNOWN_ID}") is None
    left = await scalar(
        customer_engine,
        "SELECT count(*) FROM newsletter_subscription WHERE lower(email)='alice@example.com'",
    )
    assert left == 0
    assert (
        await scalar(customer_engine, f"SELECT count(*) FROM invoice WHERE customer_id={KNOWN_ID}")
        == 1
    )
    assert await scalar(customer_engine, "SELECT count(*) FROM domain_registration") >= 1
    assert (
        await scalar(
            customer_engine,
            "SELECT count(*) FROM newsletter_subscription WHERE email='carol@example.com'",
        )
        == 1
    )
    with pytest.raises(SubjectNotFound):
        await executor.subject("alice@example.com")
    # Re-running the same case does nothing and returns the recorded result.
    again = await executor.apply_erasure(plan, "DSR-7")
    assert again.replayed and again.counts == result.counts
    assert await scalar(case_engine, "SELECT count(*) FROM retention_hold WHERE active") == 2


async def test_sweep_erases_what_left_retention(
    executor: Executor, customer_engine: AsyncEngine, case_engine: AsyncEngine
) -> None:
    subject = await executor.subject("alice.known")
    await executor.apply_erasure(await executor.preview_erasure(subject, now=NOW), "DSR-8")
    assert (await executor.sweep(now=NOW)).counts["activity_log"]["deleted"] == 0
    result = await executor.sweep(now=datetime(2028, 1, 1, tzinfo=UTC))
    assert result.counts["activity_log"] == {"deleted": 2, "holds_closed": 1}
    assert result.counts["invoice"] == {"deleted": 0, "holds_closed": 0}
    result = await executor.sweep(now=datetime(2037, 1, 1, tzinfo=UTC))
    assert result.counts == {"invoice": {"deleted": 1, "holds_closed": 1}}
    assert (
        await scalar(customer_engine, f"SELECT count(*) FROM invoice WHERE customer_id={KNOWN_ID}")
        == 0
    )
    assert (
        await scalar(case_engine, "SELECT count(*) FROM retention_hold WHERE done_at IS NULL") == 0
    )


async def test_erasure_resumes_after_a_crash(
    executor: Executor, customer_engine: AsyncEngine
) -> None:
    """A receipt started (plan recorded) but not finished: the re-run completes that plan."""
    subject = await executor.subject("alice.known")
    plan = await executor.preview_erasure(subject, now=NOW)
    assert executor.ledger is not None
    hold = RetentionHold(
        case_ref="DSR-9",
        table_name="invoice",
        link_column="customer_id",
        link_values=[KNOWN_ID],
        starts_column="issued_at",
        period="10y",
        legal_basis="tax law",
    )
    assert await executor.ledger.begin("DSR-9", "erase", erasure_plan_to_json(plan), [hold]) is None
    # The process died here; the subject can no longer be... found? It still can, but the
    # pipeline resumes from the case alone, with any plan object: the recorded one is used.
    empty = type(plan)(tables=(), now=NOW)
    recorded = await executor.recorded_erasure("DSR-9")
    assert recorded is not None and recorded.summary() == plan.summary()
    assert await executor.recorded_erasure("DSR-404") is None
    result = await executor.apply_erasure(empty, "DSR-9")
    assert result.counts["customer"]["anonymized"] == 1
    assert (await executor.apply_erasure(recorded, "DSR-9")).replayed
    assert await scalar(customer_engine, f"SELECT name FROM customer WHERE id={KNOWN_ID}") is None


async def test_change_validates_and_applies(
    executor: Executor, customer_engine: AsyncEngine
) -> None:
    subject = await executor.subject("alice@example.com")
    plan = await executor.preview_change(
        subject, {"phone": "030 1234567", "email": "Alice.New@Example.COM", "name": "Alice Zoë"}
    )
    assert {c.column: c.new for c in plan.changes} == {
        "phone": "+49301234567",
        "email": "Alice.New@example.com",
        "name": "Alice Zoë",
    }
    diff = plan.audit_diff(b"k" * 32)
    assert all(d["old"].startswith("vh_") and "@" not in json.dumps(d) for d in diff)
    await executor.apply_change(plan, "DSR-10")
    assert (
        await scalar(customer_engine, f"SELECT phone FROM customer WHERE id={KNOWN_ID}")
        == "+49301234567"
    )
    again = await executor.apply_change(plan, "DSR-10")
    assert again.replayed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"shoe_size": "44"}, "shoe_size"),
        ({"postal_code": "ABC"}, "postal_code"),
        ({"country": "XX"}, "country"),
        ({"name": "R2-D2 <x>"}, "name"),
        ({"city": "Berlin\x00"}, "city"),
    ],
    ids=["phone", "email", "unknown-field", "postal", "country", "name", "control-char"],
)
async def test_bad_change_names_the_field_and_changes_nothing(
    executor: Executor, customer_engine: AsyncEngine, changes: dict[str, str], field: str
) -> None:
    before = await scalar(
        customer_engine, f"SELECT phone || email || name FROM customer WHERE id={KNOWN_ID}"
    )
    subject = await executor.subject("alice@example.com")
    with pytest.raises(InvalidChange) as info:
        await executor.preview_change(subject, changes)
    assert info.value.field == field and field in str(info.value)
    for value in changes.values():
        if len(value) > 3:
            assert value not in str(info.value)
    after = await scalar(
        customer_engine, f"SELECT phone || email || name FROM customer WHERE id={KNOWN_ID}"
    )
    assert before == after


async def test_change_detects_a_concurrent_update(
    executor: Executor, customer_engine: AsyncEngine
) -> None:
    subject = await executor.subject("alice@example.com")
    plan = await executor.preview_change(subject, {"city": "Potsdam"})
    async with customer_engine.begin() as conn:
        await conn.execute(text(f"UPDATE customer SET city='Hamburg' WHERE id={KNOWN_ID}"))
    with pytest.raises(ConcurrentUpdateError, match="city"):
        await executor.apply_change(plan)


async def test_email_already_in_use_is_refused(executor: Executor) -> None:
    subject = await executor.subject("alice@example.com")
    plan = await executor.preview_change(subject, {"email": "bob@example.com"})
    with pytest.raises(InvalidChange, match="already uses"):
        await executor.apply_change(plan)


async def test_unsubscribe_is_idempotent(executor: Executor, customer_engine: AsyncEngine) -> None:
    first = await executor.unsubscribe("ALICE@example.com")
    assert first.counts["newsletter_subscription"]["deleted"] == 2
    assert first.counts["customer"]["updated"] == 1
    assert await scalar(
        customer_engine, f"SELECT marketing_consent FROM customer WHERE id={KNOWN_ID}"
    ) in (False, 0)
    second = await executor.unsubscribe("alice@example.com")
    assert second.counts["newsletter_subscription"]["deleted"] == 0
    assert (
        await scalar(
            customer_engine,
            "SELECT count(*) FROM newsletter_subscription WHERE email='carol@example.com'",
        )
        == 1
    )


async def test_large_tables_are_streamed_in_order(
    executor: Executor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.customer.executor as module

    monkeypatch.setattr(module, "PROBE_ROWS", 2)  # every table above 2 rows takes the cursor
    package = await executor.export(await executor.subject("alice@example.com"), tmp_path)
    rows = json.loads(package.json_path.read_text())["tables"]["activity_log"]["rows"]
    assert [r["occurred_at"][:10] for r in rows] == [
        "2026-10-31",
        "2026-10-30",
        "2025-09-27",
        "2024-08-23",
    ]
