"""What the desk remembers about customer-store operations, in the CASE store.

`RetentionHold`: rows kept on erasure because law requires it, to be deleted by `dsr store sweep`
once their period has run (stored by link column and key values, never by personal data).
`StoreReceipt`: one per case and operation, so a re-run after a crash repeats nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, UniqueConstraint, update
from sqlmodel import Field, SQLModel, select

from storage.db import session_factory
from storage.ledger import Hold

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


def _now() -> datetime:
    return datetime.now(UTC)


class RetentionHold(SQLModel, table=True):
    """Rows of one table kept for a legal period after an erasure; swept when it has run."""

    __tablename__ = "retention_hold"

    id: int | None = Field(default=None, primary_key=True)
    case_ref: str | None = Field(default=None, max_length=40, index=True)
    table_name: str = Field(max_length=128)
    link_column: str = Field(max_length=128)
    link_values: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    starts_column: str = Field(max_length=128)
    period: str = Field(max_length=16)
    legal_basis: str = Field(max_length=500)
    kept_until: datetime | None = None
    active: bool = False
    created_at: datetime = Field(default_factory=_now)
    done_at: datetime | None = Field(default=None, index=True)


class StoreReceipt(SQLModel, table=True):
    """The record that a case's operation started (with its plan) and finished (with result)."""

    __tablename__ = "store_receipt"
    __table_args__ = (UniqueConstraint("case_ref", "operation"),)

    id: int | None = Field(default=None, primary_key=True)
    case_ref: str = Field(max_length=40)
    operation: str = Field(max_length=32)
    status: str = Field(default="started", max_length=16)  # started | done
    plan: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None


def _model(hold: Hold, *, active: bool) -> RetentionHold:
    return RetentionHold(
        case_ref=hold.case_ref,
        table_name=hold.table_name,
        link_column=hold.link_column,
        link_values=list(hold.link_values),
        starts_column=hold.starts_column,
        period=hold.period,
        legal_basis=hold.legal_basis,
        kept_until=hold.kept_until,
        active=active,
        created_at=hold.created_at,
    )


class RetentionLedger:
    """Receipts and holds on the case-store engine (the executor's `Ledger`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = session_factory(engine)

    async def receipt(self, case_ref: str, operation: str) -> StoreReceipt | None:
        """The receipt of `operation` for the case, if one was started."""
        async with self._sessions() as s:
            stmt = select(StoreReceipt).where(
                StoreReceipt.case_ref == case_ref,
                StoreReceipt.operation == operation,
            )
            return (await s.exec(stmt)).one_or_none()

    async def begin(
        self,
        case_ref: str | None,
        operation: str,
        plan: dict[str, Any],
        holds: Sequence[Hold] = (),
    ) -> StoreReceipt | None:
        """Record the plan and holds before the customer store is touched (one transaction).

        Returns:
            The receipt this case already has for the operation (then nothing is written), or
            None when this is the first attempt. Without a case (staff CLI) the holds are
            active at once and nothing else is recorded.
        """
        async with self._sessions() as s, s.begin():
            if case_ref is None:
                for hold in holds:
                    s.add(_model(hold, active=True))
                return None
            stmt = select(StoreReceipt).where(
                StoreReceipt.case_ref == case_ref,
                StoreReceipt.operation == operation,
            )
            existing = (await s.exec(stmt)).one_or_none()
            if existing is not None:
                return existing
            s.add(StoreReceipt(case_ref=case_ref, operation=operation, plan=plan))
            for hold in holds:
                s.add(_model(hold, active=False))
            return None

    async def finish(self, case_ref: str | None, operation: str, result: dict[str, Any]) -> None:
        """Mark the operation done and its holds active, in one transaction."""
        if case_ref is None:
            return
        async with self._sessions() as s, s.begin():
            await (await s.connection()).execute(
                update(StoreReceipt)
                .where(
                    StoreReceipt.case_ref == case_ref,  # type: ignore[arg-type]
                    StoreReceipt.operation == operation,  # type: ignore[arg-type]
                )
                .values(status="done", result=result, finished_at=_now())
            )
            await (await s.connection()).execute(
                update(RetentionHold)
                .where(RetentionHold.case_ref == case_ref)  # type: ignore[arg-type]
                .values(active=True)
            )

    async def open_holds(self) -> list[RetentionHold]:
        """Active holds whose rows have not all been swept."""
        async with self._sessions() as s:
            stmt = select(RetentionHold).where(
                RetentionHold.active.is_(True),  # type: ignore[attr-defined]
                RetentionHold.done_at.is_(None),  # type: ignore[union-attr]
            )
            return list((await s.exec(stmt)).all())

    async def close(self, hold_id: int) -> None:
        """Mark a hold done: none of its rows is left."""
        async with self._sessions() as s, s.begin():
            await (await s.connection()).execute(
                update(RetentionHold)
                .where(RetentionHold.id == hold_id)  # type: ignore[arg-type]
                .values(done_at=_now())
            )


__all__ = ["RetentionHold", "RetentionLedger", "StoreReceipt"]
