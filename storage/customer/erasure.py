"""Erasure of one table: planning from counts, and its statements (delete, anonymize,
retain until the legal period has run), plus the retention hold that schedules the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, case, delete, func, select, update

from storage.customer.plans import Selector, TableErasure
from storage.datamap import Table as MappedTable
from storage.datamap import period_cutoff, period_end
from storage.ledger import Hold

if TYPE_CHECKING:  # the async API only as a type: `dsr store` runs on storage.bridge
    from sqlalchemy.ext.asyncio import AsyncConnection


def bound(column: Any, moment: datetime) -> datetime:
    """`moment` as the column compares it: naive UTC for columns without a time zone."""
    if getattr(column.type, "timezone", False):
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def aware(value: Any) -> datetime | None:
    """A datetime as timezone-aware UTC (naive values are UTC); anything else: None."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def plan_table(
    conn: AsyncConnection, name: str, spec: MappedTable, table: Table, sel: Selector, now: datetime
) -> TableErasure:
    """What erasure does to one table's selected rows (counts, retention, until-date)."""
    erasure, retention = spec.erasure, spec.retention
    base = TableErasure(name, spec.title, erasure.action, sel, 0)
    if spec.processor_for:
        base = TableErasure(name, spec.title, "processor", sel, 0, processor_for=spec.processor_for)
    if not sel.values:
        return base
    where = table.c[sel.column].in_(sel.values)
    if erasure.action != "retain" or spec.processor_for:
        rows = int((await conn.execute(select(func.count()).where(where))).scalar_one())
        if spec.processor_for:
            return TableErasure(
                name, spec.title, "processor", sel, rows, processor_for=spec.processor_for
            )
        if erasure.action == "delete":
            return TableErasure(name, spec.title, "delete", sel, rows, deleted=rows)
        cols = tuple(erasure.replacements())
        return TableErasure(name, spec.title, "anonymize", sel, rows, anonymized=rows, columns=cols)
    assert retention.period and retention.starts
    starts = table.c[retention.starts]
    cutoff = bound(starts, period_cutoff(retention.period, now))
    stmt = select(
        func.count(), func.sum(case((starts < cutoff, 1), else_=0)), func.max(starts)
    ).where(where)
    total, expired, newest = (await conn.execute(stmt)).one()
    total, expired = int(total or 0), int(expired or 0)
    retained = total - expired
    newest_at = aware(newest)
    cols = tuple(erasure.replacements())
    return TableErasure(
        name,
        spec.title,
        "retain",
        sel,
        total,
        deleted=expired,
        anonymized=retained if cols else 0,
        retained=retained,
        columns=cols,
        legal_basis=retention.legal_basis,
        kept_until=period_end(retention.period, newest_at) if retained and newest_at else None,
    )


def hold_for(spec: MappedTable, item: TableErasure, case_ref: str | None) -> Hold:
    """The retention hold that schedules the erasure of a table's retained rows."""
    retention = spec.retention
    assert retention.period and retention.starts and retention.legal_basis
    return Hold(
        case_ref=case_ref,
        table_name=item.table,
        link_column=item.selector.column,
        link_values=list(item.selector.values),
        starts_column=retention.starts,
        period=retention.period,
        legal_basis=retention.legal_basis[:500],
        kept_until=item.kept_until,
    )


async def erase_table(
    conn: AsyncConnection, spec: MappedTable, table: Table, item: TableErasure, now: datetime
) -> None:
    """Carry out one table's part of an erasure plan inside the caller's transaction."""
    if item.rows == 0 or item.action == "processor" or not item.selector.values:
        return
    where = table.c[item.selector.column].in_(item.selector.values)
    replacements = spec.erasure.replacements()
    if item.action == "delete":
        await conn.execute(delete(table).where(where))
    elif item.action == "anonymize":
        await conn.execute(update(table).where(where).values(**replacements))
    elif item.action == "retain":
        retention = spec.retention
        assert retention.period and retention.starts
        starts = table.c[retention.starts]
        cutoff = bound(starts, period_cutoff(retention.period, now))
        await conn.execute(delete(table).where(where, starts < cutoff))
        if replacements:
            await conn.execute(update(table).where(where).values(**replacements))
