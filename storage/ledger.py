"""The executor's ledger (receipts and retention holds, in the CASE store) in SQLAlchemy Core.

The same rows `storage.retention.RetentionLedger` writes through SQLModel, written without the
ORM, so `dsr store …` starts without importing it. `Hold` is the plain form of a retention hold
that erasure plans (`storage.customer.erasure.hold_for`) and both ledgers store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, column, insert, select, table
from sqlalchemy import update as sql_update


@dataclass(frozen=True)
class Hold:
    """Rows of one table kept for a legal period after an erasure (a `retention_hold` row)."""

    case_ref: str | None
    table_name: str
    link_column: str
    link_values: list[Any]
    starts_column: str
    period: str
    legal_basis: str
    kept_until: datetime | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Receipt:
    """A `store_receipt` row as the executor reads it."""

    case_ref: str
    operation: str
    status: str
    plan: dict[str, Any]
    result: dict[str, Any]


class _Engine(Protocol):
    """What the ledger needs of an engine (an `AsyncEngine` or a `storage.bridge` one)."""

    def begin(self) -> Any: ...

    def connect(self) -> Any: ...


HOLD = table(
    "retention_hold",
    column("id", Integer),
    column("case_ref", String),
    column("table_name", String),
    column("link_column", String),
    column("link_values", JSON),
    column("starts_column", String),
    column("period", String),
    column("legal_basis", String),
    column("kept_until", DateTime),
    column("active", Boolean),
    column("created_at", DateTime),
    column("done_at", DateTime),
)
RECEIPT = table(
    "store_receipt",
    column("id", Integer),
    column("case_ref", String),
    column("operation", String),
    column("status", String),
    column("plan", JSON),
    column("result", JSON),
    column("created_at", DateTime),
    column("finished_at", DateTime),
)


def hold_row(hold: Hold, *, active: bool) -> dict[str, Any]:
    """The `retention_hold` values of a hold."""
    return {
        "case_ref": hold.case_ref,
        "table_name": hold.table_name,
        "link_column": hold.link_column,
        "link_values": list(hold.link_values),
        "starts_column": hold.starts_column,
        "period": hold.period,
        "legal_basis": hold.legal_basis,
        "kept_until": hold.kept_until,
        "active": active,
        "created_at": hold.created_at,
        "done_at": None,
    }


@dataclass(frozen=True)
class OpenHold:
    """An active `retention_hold` row whose rows are not all swept yet."""

    id: int
    table_name: str
    link_column: str
    link_values: list[Any]
    starts_column: str
    period: str


class CoreLedger:
    """Receipts and holds on the case-store engine, in Core (the executor's `Ledger`)."""

    def __init__(self, engine: _Engine) -> None:
        self._engine = engine

    async def receipt(self, case_ref: str, operation: str) -> Receipt | None:
        """The receipt of `operation` for the case, if one was started."""
        async with self._engine.connect() as conn:
            return await _receipt(conn, case_ref, operation)

    async def begin(
        self,
        case_ref: str | None,
        operation: str,
        plan: dict[str, Any],
        holds: Sequence[Hold] = (),
    ) -> Receipt | None:
        """Record the plan and holds before the customer store is touched (one transaction);
        as `RetentionLedger.begin`."""
        async with self._engine.begin() as conn:
            if case_ref is None:
                for hold in holds:
                    await conn.execute(insert(HOLD).values(**hold_row(hold, active=True)))
                return None
            existing = await _receipt(conn, case_ref, operation)
            if existing is not None:
                return existing
            now = datetime.now(UTC)
            await conn.execute(
                insert(RECEIPT).values(
                    case_ref=case_ref,
                    operation=operation,
                    status="started",
                    plan=plan,
                    result={},
                    created_at=now,
                    finished_at=None,
                )
            )
            for hold in holds:
                await conn.execute(insert(HOLD).values(**hold_row(hold, active=False)))
            return None

    async def finish(self, case_ref: str | None, operation: str, result: dict[str, Any]) -> None:
        """Mark the operation done and its holds active, in one transaction."""
        if case_ref is None:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                sql_update(RECEIPT)
                .where(RECEIPT.c.case_ref == case_ref, RECEIPT.c.operation == operation)
                .values(status="done", result=result, finished_at=datetime.now(UTC))
            )
            await conn.execute(
                sql_update(HOLD).where(HOLD.c.case_ref == case_ref).values(active=True)
            )

    async def open_holds(self) -> list[OpenHold]:
        """Active holds whose rows have not all been swept."""
        cols = [HOLD.c[n] for n in ("id", "table_name", "link_column", "link_values")]
        stmt = select(*cols, HOLD.c.starts_column, HOLD.c.period).where(
            HOLD.c.active.is_(True), HOLD.c.done_at.is_(None)
        )
        async with self._engine.connect() as conn:
            return [OpenHold(*row) for row in await conn.execute(stmt)]

    async def close(self, hold_id: int) -> None:
        """Mark a hold done: none of its rows is left."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sql_update(HOLD).where(HOLD.c.id == hold_id).values(done_at=datetime.now(UTC))
            )


async def _receipt(conn: Any, case_ref: str, operation: str) -> Receipt | None:
    stmt = select(
        RECEIPT.c.case_ref, RECEIPT.c.operation, RECEIPT.c.status, RECEIPT.c.plan, RECEIPT.c.result
    ).where(RECEIPT.c.case_ref == case_ref, RECEIPT.c.operation == operation)
    row = (await conn.execute(stmt)).first()
    return None if row is None else Receipt(*row)


__all__ = ["CoreLedger", "Hold", "OpenHold", "Receipt", "hold_row"]
