# ruff: noqa: F811  (fixtures imported by name)
"""The executor on a schema it has never seen (German names, two-hop foreign keys, NOT NULL
anonymization, naive timestamps), driven only by its own data map: proof that it is generic."""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import storage.customer
from storage.customer import Executor
from storage.datamap import parse_datamap
from storage.db import create_engine
from storage.retention import RetentionLedger
from tests.test_store_support import case_engine, customer_url  # noqa: F401

DDL = [
    "CREATE TABLE kunde (knr INTEGER PRIMARY KEY, mail VARCHAR(200) UNIQUE, login VARCHAR(50),"
    " vorname VARCHAR(50), nachname VARCHAR(50) NOT NULL, telefon VARCHAR(30),"
    " angelegt TIMESTAMP NOT NULL)",
    "CREATE TABLE vertrag (vnr INTEGER PRIMARY KEY, kunde_ref INTEGER NOT NULL"
    " REFERENCES kunde(knr), tarif VARCHAR(20), beginn TIMESTAMP NOT NULL)",
    "CREATE INDEX vertrag_kunde ON vertrag(kunde_ref)",
    "CREATE TABLE zugriff (zid INTEGER PRIMARY KEY, vertrag_ref INTEGER NOT NULL"
    " REFERENCES vertrag(vnr), ip VARCHAR(45) NOT NULL, zeit TIMESTAMP NOT NULL)",
    "CREATE TABLE rundbrief (rid INTEGER PRIMARY KEY, adresse VARCHAR(200) NOT NULL,"
    " liste VARCHAR(20))",
]
DATA = [
    "INSERT INTO kunde VALUES (1, 'erika@example.de', 'erika', 'Erika', 'Mustermann',"
    " '+49301111', '2015-01-01 00:00:00')",
    "INSERT INTO kunde VALUES (2, 'max@example.de', 'max', 'Max', 'Muster', NULL,"
    " '2016-01-01 00:00:00')",
    "INSERT INTO vertrag VALUES (10, 1, 'S', '2016-05-01 00:00:00')",
    "INSERT INTO vertrag VALUES (11, 1, 'M', '2025-05-01 00:00:00')",
    "INSERT INTO vertrag VALUES (12, 2, 'S', '2025-05-01 00:00:00')",
    "INSERT INTO zugriff VALUES (100, 10, '192.0.2.1', '2024-01-01 10:00:00')",
    "INSERT INTO zugriff VALUES (101, 11, '192.0.2.2', '2026-01-01 10:00:00')",
    "INSERT INTO zugriff VALUES (102, 12, '192.0.2.3', '2026-01-01 10:00:00')",
    "INSERT INTO rundbrief VALUES (1000, 'erika@example.de', 'aktionen')",
    "INSERT INTO rundbrief VALUES (1001, 'max@example.de', 'aktionen')",
]
COMMON = {
    "purposes": ["Vertragserfüllung"],
    "legal_basis": "Art. 6(1)(b) DSGVO",
    "source": "Sie",
}
MAP = {
    "version": 1,
    "controller": {
        "name": "Muster AG",
        "contact": "datenschutz@example.de",
        "authority": "die zuständige Aufsichtsbehörde",
    },
    "identity_keys": {"email": "E-Mail", "username": "Login"},
    "categories": {"stamm": "Stammdaten", "vertrag": "Vertragsdaten", "nutzung": "Nutzungsdaten"},
    "tables": {
        "kunde": {
            **COMMON,
            "title": "Kundenkonto",
            "role": "account",
            "find": {"identity": {"email": "mail", "username": "login"}},
            "columns": {
                "mail": {"category": "stamm", "rectify": "email"},
                "login": "stamm",
                "vorname": "stamm",
                "nachname": {"category": "stamm", "rectify": "name"},
                "telefon": {"category": "stamm", "rectify": "phone"},
            },
            "retention": {"description": "Solange das Konto besteht"},
            "erasure": {
                "action": "anonymize",
                "columns": {
                    "mail": None,
                    "login": None,
                    "vorname": None,
                    "nachname": "(gelöscht)",
                    "telefon": None,
                },
            },
        },
        "vertrag": {
            **COMMON,
            "title": "Verträge",
            "find": {"via": "kunde", "column": "kunde_ref"},
            "columns": {"tarif": "vertrag", "beginn": "vertrag"},
            "retention": {"period": "6y", "from": "beginn", "legal_basis": "§ 257 HGB"},
            "erasure": {"action": "retain"},
        },
        "zugriff": {
            **COMMON,
            "title": "Zugriffe",
            "find": {"via": "vertrag", "column": "vertrag_ref"},
            "columns": {"ip": "nutzung", "zeit": "nutzung"},
            "retention": {"description": "30 Tage"},
            "erasure": {"action": "delete"},
        },
        "rundbrief": {
            **COMMON,
            "title": "Rundbrief",
            "find": {"identity": {"email": "adresse"}},
            "columns": {"adresse": "stamm", "liste": "stamm"},
            "retention": {"description": "Bis zur Abmeldung"},
            "erasure": {"action": "delete"},
        },
    },
    "unsubscribe": {"delete": ["rundbrief"]},
}
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
async def foreign(customer_url: str, case_engine: AsyncEngine) -> AsyncIterator[Executor]:
    engine = create_engine(customer_url)
    async with engine.begin() as conn:
        for sql in DDL + DATA:
            await conn.execute(text(sql))
    yield await Executor.open(engine, parse_datamap(MAP), RetentionLedger(case_engine))
    await engine.dispose()


async def rows(executor: Executor, sql: str) -> list[tuple[object, ...]]:
    async with executor.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql))]


async def test_find_and_export_on_a_foreign_schema(foreign: Executor, tmp_path: Path) -> None:
    match = await foreign.find("erika")
    assert {t.table: t.rows for t in match.tables} == {
        "kunde": 1,
        "vertrag": 2,
        "zugriff": 2,
        "rundbrief": 1,
    }
    package = await foreign.export(await foreign.subject("ERIKA@example.de"), tmp_path)
    data = json.loads(package.json_path.read_text())
    assert [r["ip"] for r in data["tables"]["zugriff"]["rows"]] == ["192.0.2.1", "192.0.2.2"]
    page = package.html_path.read_text()
    assert "Vertragserfüllung" in page
    assert "6 years, counted from each record&#39;s beginn (§ 257 HGB)" in page


async def test_erasure_on_a_foreign_schema(foreign: Executor) -> None:
    plan = await foreign.preview_erasure(await foreign.subject("erika"), now=NOW)
    by = {t.table: t for t in plan.tables}
    assert (by["vertrag"].deleted, by["vertrag"].retained) == (1, 1)
    assert by["vertrag"].kept_until and by["vertrag"].kept_until.year == 2031
    await foreign.apply_erasure(plan, "DSR-40")
    assert await rows(foreign, "SELECT mail, login, nachname, telefon FROM kunde WHERE knr=1") == [
        (None, None, "(gelöscht)", None)
    ]
    assert await rows(foreign, "SELECT zid, ip FROM zugriff ORDER BY zid") == [
        (102, "192.0.2.3"),
    ]
    assert await rows(foreign, "SELECT vnr FROM vertrag ORDER BY vnr") == [(11,), (12,)]
    assert await rows(foreign, "SELECT rid FROM rundbrief") == [(1001,)]
    swept = await foreign.sweep(now=datetime(2031, 6, 1, tzinfo=UTC))
    assert swept.counts["vertrag"] == {"deleted": 1, "holds_closed": 1}


async def test_change_and_unsubscribe_on_a_foreign_schema(foreign: Executor) -> None:
    subject = await foreign.subject("max")
    plan = await foreign.preview_change(subject, {"telefon": "+49 30 901820"})
    await foreign.apply_change(plan)
    assert await rows(foreign, "SELECT telefon FROM kunde WHERE knr=2") == [("+4930901820",)]
    assert (await foreign.unsubscribe("max@example.de")).counts == {"rundbrief": {"deleted": 1}}


def test_executor_does_not_know_the_reference_schema() -> None:
    package = Path(storage.customer.__file__).parent
    for name in ("executor.py", "selection.py", "access.py", "plans.py"):
        tree = ast.parse((package / name).read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
        }
        assert "storage.customer.schema" not in imported, name
