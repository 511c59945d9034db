"""Objection and restriction in the customer store: the marketing suppression list (keyed hashes
of addresses, Art. 21(2)) and restriction marks on a subject's rows per purpose (Art. 18).

Both tables live beside the mapped ones (plain SQLAlchemy tables here, so a `dsr store` command
does not build the reference schema's models) and are created when missing, so a company's own
store gains them without touching its tables.
Hashes and row keys only: no address is ever stored in clear here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)

from storage.customer.plans import Selector
from storage.datamap import DataMap

if TYPE_CHECKING:  # the async API only as a type: `dsr store` runs on storage.bridge
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

rights_metadata = MetaData()
#: An address that objected to direct marketing (Art. 21(2)): only a keyed hash of it, so the
#: list reveals no address and a re-import cannot subscribe it again.
SUPPRESSION = Table(
    "suppression",
    rights_metadata,
    Column("address_hash", String(64), primary_key=True),
    Column("case_ref", String(32), nullable=True),
    Column("since", DateTime(timezone=True), nullable=False),
)
#: A row whose processing is restricted for a purpose (Art. 18) until `lifted_at`.
RESTRICTION = Table(
    "restriction",
    rights_metadata,
    Column("id", Integer, primary_key=True),
    Column("table_name", String(100), nullable=False, index=True),
    Column("row_key", String(100), nullable=False, index=True),
    Column("purpose", String(200), nullable=False),
    Column("case_ref", String(32), nullable=False, index=True),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("lifted_at", DateTime(timezone=True), nullable=True),
)
#: Both tables' names: reflected with the mapped ones, created only when one is missing.
TABLES = ("suppression", "restriction")

#: Legal bases an objection under Art. 21(1) applies to: public task (e) and legitimate
#: interests (f) of Art. 6(1).
_OBJECTABLE = re.compile(r"6\(1\)[^A]*\([ef]\)")


def normalise_address(address: str) -> str:
    """The form an address is hashed in: trimmed and case-folded (pure)."""
    return address.strip().casefold()


def address_hash(key: bytes, address: str) -> str:
    """HMAC-SHA-256 of the normalised address under the suppression key (pure)."""
    return hmac.new(key, normalise_address(address).encode(), hashlib.sha256).hexdigest()


def objectable_purposes(datamap: DataMap) -> list[str]:
    """Purposes of the data map based on Art. 6(1)(e) or (f): those Art. 21(1) concerns (pure)."""
    out: list[str] = []
    for spec in datamap.tables.values():
        if _OBJECTABLE.search(spec.legal_basis):
            out.extend(p for p in spec.purposes if p not in out)
    return out


async def ensure_tables(engine: AsyncEngine) -> None:
    """Create the suppression and restriction tables when missing (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(
            lambda c: rights_metadata.create_all(
                c, tables=[SUPPRESSION, RESTRICTION], checkfirst=True
            )
        )


async def suppress(engine: AsyncEngine, key: bytes, address: str, case_ref: str | None) -> bool:
    """Put the address on the suppression list; False when it was already there."""
    digest = address_hash(key, address)
    async with engine.begin() as conn:
        if await _suppressed(conn, [digest]):
            return False
        await conn.execute(
            insert(SUPPRESSION).values(
                address_hash=digest, case_ref=case_ref, since=datetime.now(UTC)
            )
        )
    return True


async def _suppressed(conn: AsyncConnection, digests: list[str]) -> set[str]:
    if not digests:
        return set()
    stmt = select(SUPPRESSION.c.address_hash).where(SUPPRESSION.c.address_hash.in_(digests))
    return {str(r) for r in (await conn.execute(stmt)).scalars()}


async def suppressed_among(conn: AsyncConnection, key: bytes, addresses: list[str]) -> set[str]:
    """Those of `addresses` on the suppression list (as given)."""
    by_hash = {address_hash(key, a): a for a in addresses}
    return {by_hash[h] for h in await _suppressed(conn, list(by_hash))}


async def suppression_size(conn: AsyncConnection) -> int:
    """How many addresses are suppressed (0 when the table does not exist yet)."""
    exists = await conn.run_sync(lambda c: c.dialect.has_table(c, "suppression"))
    if not exists:
        return 0
    return int((await conn.execute(select(func.count()).select_from(SUPPRESSION))).scalar_one())


@dataclass(frozen=True)
class RestrictionMark:
    """One restricted row: table, row key, purpose, since when, by which case."""

    table: str
    row_key: str
    purpose: str
    case_ref: str
    since: datetime


async def restrict(
    engine: AsyncEngine,
    datamap: DataMap,
    selectors: dict[str, Selector],
    case_ref: str,
) -> int:
    """Mark every selected row restricted for each purpose of its table (idempotent per case).

    Returns:
        How many marks exist for the case afterwards.
    """
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        done = {
            (r.table_name, r.row_key, r.purpose)
            for r in await conn.execute(
                select(RESTRICTION).where(
                    RESTRICTION.c.case_ref == case_ref, RESTRICTION.c.lifted_at.is_(None)
                )
            )
        }
        rows = [
            {
                "table_name": name,
                "row_key": str(value),
                "purpose": purpose,
                "case_ref": case_ref,
                "since": now,
                "lifted_at": None,
            }
            for name, sel in selectors.items()
            if name in datamap.tables and not datamap.tables[name].processor_for
            for value in sel.values
            for purpose in datamap.tables[name].purposes
            if (name, str(value), purpose) not in done
        ]
        if rows:
            await conn.execute(insert(RESTRICTION), rows)
        return len(done) + len(rows)


async def restrictions_of(
    conn: AsyncConnection, selectors: dict[str, Selector]
) -> list[RestrictionMark]:
    """The active restriction marks on the selected rows."""
    exists = await conn.run_sync(lambda c: c.dialect.has_table(c, "restriction"))
    if not exists:
        return []
    out: list[RestrictionMark] = []
    for name, sel in selectors.items():
        if not sel.values:
            continue
        stmt = select(RESTRICTION).where(
            RESTRICTION.c.table_name == name,
            RESTRICTION.c.row_key.in_([str(v) for v in sel.values]),
            RESTRICTION.c.lifted_at.is_(None),
        )
        for r in await conn.execute(stmt):
            out.append(RestrictionMark(r.table_name, r.row_key, r.purpose, r.case_ref, r.since))
    return out


async def active_restrictions(engine: AsyncEngine, case_ref: str) -> int:
    """How many marks of the case are still active."""
    async with engine.connect() as conn:
        stmt = (
            select(func.count())
            .select_from(RESTRICTION)
            .where(RESTRICTION.c.case_ref == case_ref, RESTRICTION.c.lifted_at.is_(None))
        )
        return int((await conn.execute(stmt)).scalar_one())


async def lift(engine: AsyncEngine, case_ref: str) -> int:
    """Lift every active mark of the case; returns how many were lifted."""
    async with engine.begin() as conn:
        res = await conn.execute(
            update(RESTRICTION)
            .where(RESTRICTION.c.case_ref == case_ref, RESTRICTION.c.lifted_at.is_(None))
            .values(lifted_at=datetime.now(UTC))
        )
        return int(res.rowcount or 0)
