# ruff: noqa: F811  (fixtures imported by name)
"""`dsr store import`: every line validated, errors by line number, nothing half-imported."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from storage.customer.errors import ImportFileError
from storage.customer.importer import import_customers, parse_lines
from storage.db import create_engine
from tests.test_store_support import customer_url  # noqa: F401

GOOD: dict[str, Any] = {
    "username": "zoe",
    "email": "Zoe@Example.org",
    "name": "Zoë Ångström",
    "company": None,
    "phone": "030 901820",
    "street": "Hauptstraße 5",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "de",
    "newsletter": True,
}


def line(**changes: Any) -> str:
    data = {**GOOD, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...})


async def count(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await engine.dispose()


async def test_import_creates_customers_and_subscriptions(customer_url: str) -> None:
    engine = create_engine(customer_url)
    try:
        created = await import_customers(
            engine, [line(), "", line(username="yan", email="yan@example.org", newsletter=False)]
        )
    finally:
        await engine.dispose()
    assert [c.handle for c in created] == ["C00000001", "C00000002"]
    assert await count(customer_url, "customer") == 2
    assert await count(customer_url, "newsletter_subscription") == 1


def test_normalises_values() -> None:
    [row] = parse_lines([line()])
    assert row["phone"] == "+4930901820" and row["country"] == "DE"
    assert row["email"] == "zoe@example.org"


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (line(phone="12"), "line 3: field 'phone'"),
        (line(email="zoe@"), "line 3: field 'email'"),
        (line(city=...), "line 3: field 'city': missing"),
        (line(newsletter="yes"), "line 3: field 'newsletter'"),
        (line(shoe=44), "line 3: field 'shoe'"),
        (line(postal_code="1"), "line 3: field 'postal_code'"),
        ("{not json", "line 3: field 'line'"),
        (line(username="Zoe2"), "line 3: field 'email': same as line 2"),
    ],
    ids=["phone", "email", "missing", "bool", "unknown", "postal", "json", "duplicate-email"],
)
async def test_bad_line_imports_nothing(customer_url: str, bad: str, needle: str) -> None:
    engine = create_engine(customer_url)
    try:
        with pytest.raises(ImportFileError) as info:
            await import_customers(
                engine, [line(username="first", email="first@example.org"), line(), bad]
            )
    finally:
        await engine.dispose()
    message = str(info.value)
    assert needle in message
    assert "nothing was imported" in message
    assert "Zoe@Example.org" not in message


async def test_existing_account_is_an_error(customer_url: str) -> None:
    engine = create_engine(customer_url)
    try:
        await import_customers(engine, [line()])
        with pytest.raises(ImportFileError, match="line 1: field 'email': already used"):
            await import_customers(engine, [line(username="other")])
    finally:
        await engine.dispose()
    assert await count(customer_url, "customer") == 1
