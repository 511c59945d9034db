# ruff: noqa: F811  (fixtures imported by name)
"""The reflected customer schema kept between processes (`storage.customer.schema_cache`):
reused while the mapped tables are unchanged, reflected again the moment one changes (on
SQLite and PostgreSQL), ignored when the file was not written with the desk's key, and never
readable by other local users."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.customer import Executor, rights
from storage.customer.schema_cache import SchemaCache
from storage.datamap import parse_datamap
from storage.db import create_engine
from tests.test_executor_foreign import DDL, MAP
from tests.test_store_support import customer_url  # noqa: F401

KEY = b"k" * 32


def kept(directory: Path) -> list[Path]:
    return sorted(directory.glob("customer-schema-*.pickle"))


async def test_reused_until_a_mapped_table_changes(customer_url: str, tmp_path: Path) -> None:
    engine = create_engine(customer_url)
    cache = SchemaCache.keyed(tmp_path / "cache", KEY)
    try:
        async with engine.begin() as conn:
            for sql in DDL:
                await conn.execute(text(sql))
        await rights.ensure_tables(engine)  # as the first open leaves a company's store
        first = await Executor.open(engine, parse_datamap(MAP), cache=cache)
        files = kept(tmp_path / "cache")
        assert len(files) == 1
        assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700

        again = await Executor.open(engine, parse_datamap(MAP), cache=cache)
        assert kept(tmp_path / "cache") == files  # the same fingerprint: the same file
        assert set(again.tables["kunde"].c.keys()) == set(first.tables["kunde"].c.keys())
        assert again.pks == first.pks

        # A column added to a mapped table: a new fingerprint, a new reflection that sees it.
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE kunde ADD COLUMN spitzname VARCHAR(40)"))
        changed = await Executor.open(engine, parse_datamap(MAP), cache=cache)
        assert "spitzname" in changed.tables["kunde"].c
        assert len(kept(tmp_path / "cache")) == 2
    finally:
        await engine.dispose()


async def test_a_file_not_signed_by_the_desk_is_ignored(customer_url: str, tmp_path: Path) -> None:
    engine = create_engine(customer_url)
    ours = SchemaCache.keyed(tmp_path / "cache", KEY)
    try:
        async with engine.begin() as conn:
            for sql in DDL:
                await conn.execute(text(sql))
        await rights.ensure_tables(engine)  # as the first open leaves a company's store
        await Executor.open(engine, parse_datamap(MAP), cache=ours)
        (path,) = kept(tmp_path / "cache")
        # Someone else's key signed this one; then a file cut short.
        theirs = SchemaCache.keyed(tmp_path / "cache", b"x" * 32)
        blob = path.read_bytes()
        path.write_bytes(theirs._sign(blob[32:]) + blob[32:])
        reopened = await Executor.open(engine, parse_datamap(MAP), cache=ours)
        assert "mail" in reopened.tables["kunde"].c
        rewritten = path.read_bytes()  # reflected again and rewritten under our signature
        assert ours._sign(rewritten[32:]) == rewritten[:32]
        path.write_bytes(blob[:100])
        assert (
            "mail"
            in (await Executor.open(engine, parse_datamap(MAP), cache=ours)).tables["kunde"].c
        )
    finally:
        await engine.dispose()


async def test_an_unwritable_cache_is_no_error(customer_url: str, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    engine = create_engine(customer_url)
    try:
        async with engine.begin() as conn:
            for sql in DDL:
                await conn.execute(text(sql))
        await rights.ensure_tables(engine)  # as the first open leaves a company's store
        cache = SchemaCache.keyed(blocked / "cache", KEY)
        executor = await Executor.open(engine, parse_datamap(MAP), cache=cache)
        assert "kunde" in executor.tables
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
def _no_leftover_parts(tmp_path: Path) -> Iterator[None]:
    yield
    assert not list(tmp_path.rglob("*.part"))
