"""Fixtures shared by the customer-store tests (imported by name; holds no tests itself)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.customer import Executor
from storage.customer.schema import customer_metadata
from storage.customer.seed import seed
from storage.datamap import load_datamap
from storage.db import create_engine
from storage.retention import RetentionLedger
from tests.servers.postgres import PostgresServer

DEFAULT_MAP = "storage/datamap.yaml"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def customer_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A second fresh database on the same backend, for the customer store."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('cust') / 'customers.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database("c")


@pytest.fixture
async def customer_engine(customer_url: str) -> AsyncIterator[AsyncEngine]:
    """The customer store seeded with 40 synthetic customers plus the known ones below."""
    engine = create_engine(customer_url)
    await seed(engine, 40, seed_value=7)
    await add_known(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def case_engine(case_store_url: str) -> AsyncIterator[AsyncEngine]:
    """The migrated case store."""
    engine = create_engine(case_store_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def executor(customer_engine: AsyncEngine, case_engine: AsyncEngine) -> Executor:
    """An executor over the default data map, with the case-store ledger."""
    return await Executor.open(
        customer_engine, load_datamap(DEFAULT_MAP), RetentionLedger(case_engine)
    )


KNOWN_ID = 1001


async def add_known(engine: AsyncEngine) -> None:
    """Customer 1001 'Alice <script>' with rows in every table, some past retention."""
    t = customer_metadata.tables
    rows: dict[str, list[dict[str, Any]]] = {
        "customer": [
            {
                "id": KNOWN_ID,
                "handle": "C00001001",
                "username": "alice.known",
                "password_hash": "$argon2id$x",
                "email": "alice@example.com",
                "name": "Alice <script>alert(1)</script> & Co",
                "company": "Known & Sons",
                "phone": "+4930901820",
                "street": "Unter den Linden 1",
                "postal_code": "10117",
                "city": "Berlin",
                "country": "DE",
                "marketing_consent": True,
                "created_at": NOW - timedelta(days=3000),
            },
            # Another account whose username equals Alice's customer number: an ambiguous input.
            {
                "id": KNOWN_ID + 1,
                "handle": "C00001002",
                "username": "C00001001",
                "email": "bob@example.com",
                "name": "Bob",
                "marketing_consent": False,
                "created_at": NOW - timedelta(days=10),
            },
        ],
        "newsletter_subscription": [
            {
                "email": "alice@example.com",
                "name": "Alice",
                "list_name": "news",
                "subscribed_at": NOW - timedelta(days=100),
            },
            {
                "email": "alice@example.com",
                "name": "Alice",
                "list_name": "offers",
                "subscribed_at": NOW - timedelta(days=50),
            },
            {
                "email": "carol@example.com",
                "name": "Carol",
                "list_name": "news",
                "subscribed_at": NOW - timedelta(days=5),
            },
        ],
        "contact_message": [
            {
                "email": "alice@example.com",
                "name": "Alice",
                "subject": "Hi <b>there</b>",
                "body": "Question",
                "received_at": NOW - timedelta(days=20),
            },
        ],
        "tracking_identifier": [
            {
                "customer_id": KNOWN_ID,
                "recipient": "Google Analytics",
                "cookie_name": "_ga",
                "identifier": "GA1.2.3",
                "first_seen": NOW - timedelta(days=30),
            },
        ],
        "activity_log": [
            {
                "customer_id": KNOWN_ID,
                "occurred_at": NOW - timedelta(days=d),
                "ip_address": "198.51.100.7",
                "user_agent": "UA",
                "action": "login",
            }
            for d in (1, 2, 400, 800)
        ],
        "invoice": [
            {
                "customer_id": KNOWN_ID,
                "number": f"K-{n}",
                "billing_name": "Alice",
                "billing_address": "Berlin",
                "amount_cents": 990,
                "currency": "EUR",
                "issued_at": NOW - timedelta(days=d),
            }
            for n, d in enumerate((30, 4000))
        ],
        "domain_registration": [
            {
                "customer_id": KNOWN_ID,
                "domain": "alice.example",
                "registrant_name": "Alice",
                "registrant_email": "alice@example.com",
                "registrant_phone": "+4930901820",
                "reseller": "DomainPartner AG",
                "registered_at": NOW - timedelta(days=90),
            },
        ],
    }
    async with engine.begin() as conn:
        for name in customer_metadata.tables:
            for row in rows.get(name, []):
                await conn.execute(insert(t[name]), row)
