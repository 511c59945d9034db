# ruff: noqa: F811  (fixtures imported by name)
"""`email_match: casefold` on a company's own schema that stores e-mails as typed: a lower-case
request finds, exports, erases and unsubscribes `Erika.Muster@Example.DE`; `exact` (the default)
does not; mail goes to the spelling on file, not the request's."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.case.data import verified_address
from bot.work import pipeline
from storage.customer import Executor, SubjectNotFound
from storage.datamap import parse_datamap
from storage.db import create_engine
from storage.models import Case
from storage.retention import RetentionLedger
from tests.test_executor_foreign import DDL, MAP, NOW
from tests.test_store_support import case_engine, customer_url  # noqa: F401

STORED = "Erika.Muster@Example.DE"
ASKED = "erika.muster@example.de"
DATA = [
    f"INSERT INTO kunde VALUES (1, '{STORED}', 'erika', 'Erika', 'Muster', '+49301111',"
    " '2015-01-01 00:00:00')",
    "INSERT INTO kunde VALUES (2, 'max@example.de', 'max', 'Max', 'Muster', NULL,"
    " '2016-01-01 00:00:00')",
    "INSERT INTO vertrag VALUES (10, 1, 'S', '2016-05-01 00:00:00')",
    "INSERT INTO vertrag VALUES (11, 2, 'M', '2025-05-01 00:00:00')",
    "INSERT INTO zugriff VALUES (100, 10, '192.0.2.1', '2026-01-01 10:00:00')",
    "INSERT INTO zugriff VALUES (101, 11, '192.0.2.2', '2026-01-01 10:00:00')",
    # The newsletter table spells the same address differently again.
    "INSERT INTO rundbrief VALUES (1000, 'ERIKA.MUSTER@example.de', 'aktionen')",
    "INSERT INTO rundbrief VALUES (1001, 'max@example.de', 'aktionen')",
]


def datamap(email_match: str | None) -> Any:
    raw: dict[str, Any] = copy.deepcopy(MAP)
    if email_match is not None:
        raw["email_match"] = email_match
    return parse_datamap(raw)


async def open_store(url: str, case_engine: AsyncEngine, email_match: str | None) -> Executor:
    engine = create_engine(url)
    async with engine.begin() as conn:
        for sql in DDL + DATA:
            await conn.execute(text(sql))
        # The index a large table wants; the query must still be right with it in place.
        await conn.execute(text("CREATE INDEX kunde_mail_lower ON kunde (lower(mail))"))
    return await Executor.open(engine, datamap(email_match), RetentionLedger(case_engine))


@pytest.fixture
async def casefold(customer_url: str, case_engine: AsyncEngine) -> AsyncIterator[Executor]:
    executor = await open_store(customer_url, case_engine, "casefold")
    yield executor
    await executor.engine.dispose()


@pytest.fixture
async def exact(customer_url: str, case_engine: AsyncEngine) -> AsyncIterator[Executor]:
    executor = await open_store(customer_url, case_engine, None)
    yield executor
    await executor.engine.dispose()


async def rows(executor: Executor, sql: str) -> list[tuple[object, ...]]:
    async with executor.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(text(sql))]


async def test_casefold_finds_and_exports_a_mixed_case_address(
    casefold: Executor, tmp_path: Path
) -> None:
    match = await casefold.find(ASKED)
    assert match.accounts == ("kunde #1",)
    assert {t.table: t.rows for t in match.tables} == {
        "kunde": 1,
        "vertrag": 1,
        "zugriff": 1,
        "rundbrief": 1,
    }
    assert match.subject is not None and match.subject.values("email")[0] == STORED
    package = await casefold.export(await casefold.subject(" ERIKA.muster@EXAMPLE.de "), tmp_path)
    data = json.loads(package.json_path.read_text())
    assert [r["mail"] for r in data["tables"]["kunde"]["rows"]] == [STORED]
    assert [r["adresse"] for r in data["tables"]["rundbrief"]["rows"]] == [
        "ERIKA.MUSTER@example.de"
    ]
    assert [r["ip"] for r in data["tables"]["zugriff"]["rows"]] == ["192.0.2.1"]


async def test_casefold_erases_a_mixed_case_address(casefold: Executor) -> None:
    plan = await casefold.preview_erasure(await casefold.subject(ASKED), now=NOW)
    await casefold.apply_erasure(plan, "DSR-71")
    assert await rows(casefold, "SELECT knr, mail, nachname FROM kunde ORDER BY knr") == [
        (1, None, "(gelöscht)"),
        (2, "max@example.de", "Muster"),
    ]
    assert await rows(casefold, "SELECT rid FROM rundbrief") == [(1001,)]
    assert await rows(casefold, "SELECT zid FROM zugriff") == [(101,)]
    assert not (await casefold.find(ASKED)).found


async def test_casefold_unsubscribes_and_changes_by_a_mixed_case_address(
    casefold: Executor,
) -> None:
    result = await casefold.unsubscribe("Erika.MUSTER@example.DE", "DSR-72")
    assert result.counts == {"rundbrief": {"deleted": 1}}
    assert await rows(casefold, "SELECT rid FROM rundbrief") == [(1001,)]
    plan = await casefold.preview_change(await casefold.subject(ASKED), {"telefon": "+4930 2222"})
    await casefold.apply_change(plan, "DSR-73")
    assert await rows(casefold, "SELECT telefon FROM kunde WHERE knr = 1") == [("+49302222",)]


async def test_exact_is_the_default_and_does_not_fold_case(exact: Executor) -> None:
    assert exact.datamap.email_match == "exact"
    assert not (await exact.find(ASKED)).found
    with pytest.raises(SubjectNotFound):
        await exact.subject(ASKED)
    assert (await exact.unsubscribe(ASKED)).counts == {"rundbrief": {"deleted": 0}}
    # As before: the address as stored, or its lower-cased form, is found.
    assert (await exact.find(STORED)).accounts == ("kunde #1",)


async def test_challenge_and_mail_go_to_the_spelling_on_file(casefold: Executor) -> None:
    desk: Any = SimpleNamespace(executor=casefold)
    case = Case(reference="DSR-74", data={"identifiers": [ASKED, "erika"]})
    found = await pipeline._lookup(desk, case)
    assert found.addresses == (STORED,)  # one challenge, to the address as stored
    case.data = {**case.data, "subject": found.model_dump(), "verified_address": ASKED}
    assert verified_address(case) == STORED
    # The executor finds the subject again by the spelling on file (what _execute passes).
    assert (await casefold.subject(STORED)).account_pk == 1


async def test_replies_match_the_challenged_address_lower_cased_with_casefold(
    casefold: Executor,
) -> None:
    from bot.work.desk import Desk

    desk: Any = SimpleNamespace(key=b"k" * 32, executor=casefold)
    # the reply's lower-case spelling is the stored address, by lower(), never casefold()
    assert Desk.address_key(desk, ASKED) == Desk.address_key(desk, STORED)
    assert Desk.address_key(desk, "straße@example.de") != Desk.address_key(
        desk, "strasse@example.de"
    )


async def test_replies_match_only_the_address_as_stored_with_exact(exact: Executor) -> None:
    from bot.work.desk import Desk

    desk: Any = SimpleNamespace(key=b"k" * 32, executor=exact)
    assert Desk.address_key(desk, ASKED) != Desk.address_key(desk, STORED)
    assert Desk.address_key(desk, STORED) == Desk.address_key(desk, "Erika.Muster@example.de")
