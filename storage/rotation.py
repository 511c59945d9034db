"""Re-sealing every sealed value under the newest data key (`dsr keys rotate`).

The pass walks each sealed column (found on the metadata by its type, so a column sealed later
is rotated too) in id order, a batch per short transaction. A value is rewritten only if it is
still what was read (`WHERE id = … AND col = old`), so a desk writing at the same time always
wins; values it writes are sealed under the newest key already. Progress is kept per column in
`seal_progress`, so a pass that is stopped resumes where it was. Values written before sealing
existed (migration 0008) are sealed, and clear Message-IDs replaced by their keyed hash.

Start and finish are audited with counts only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

import storage.models  # noqa: F401  (registers the sealed tables on the metadata)
from storage import audit
from storage.sealing import Keyring, LookupHash, SealedBytes, SealedJSON, SealedText, kid_of


def _now() -> datetime:
    return datetime.now(UTC)


class SealProgress(SQLModel, table=True):
    """How far the rotation pass got in one sealed column, and under which key it seals."""

    __tablename__ = "seal_progress"

    column_name: str = Field(primary_key=True, max_length=128)  # table.column
    target_kid: str = Field(max_length=16)
    last_id: int = 0
    resealed: int = 0
    started_at: datetime = Field(default_factory=_now)
    finished_at: datetime | None = None


@dataclass(frozen=True)
class SealedColumn:
    """One column the pass visits: its table, name and how it is sealed."""

    table: str
    column: str
    kind: str  # text | json | bytes | hash

    @property
    def where(self) -> str:
        """`table.column`, as bound into the seal."""
        return f"{self.table}.{self.column}"


def sealed_columns(metadata: MetaData | None = None) -> list[SealedColumn]:
    """Every sealed or hashed column on the metadata (all tables of the case store)."""
    kinds: list[tuple[type, str]] = [
        (SealedJSON, "json"),
        (SealedText, "text"),
        (SealedBytes, "bytes"),
        (LookupHash, "hash"),
    ]
    found = []
    for table in (metadata or SQLModel.metadata).sorted_tables:
        for col in table.columns:
            for kind_type, kind in kinds:
                if isinstance(col.type, kind_type):
                    found.append(SealedColumn(table.name, col.name, kind))
    return found


@dataclass
class RotationReport:
    """What a pass did: values rewritten per column, and whether it finished."""

    target_kid: str
    resealed: dict[str, int] = field(default_factory=dict)
    finished: bool = False

    @property
    def total(self) -> int:
        """Values rewritten in all."""
        return sum(self.resealed.values())


def _raw_table(col: SealedColumn) -> Table:
    """The table with the column's plain storage type, so values are read and written as
    stored (no sealing on the way)."""
    storage = LargeBinary() if col.kind == "bytes" else Text() if col.kind != "hash" else String()
    return Table(
        col.table, MetaData(), Column("id", Integer, primary_key=True), Column(col.column, storage)
    )


def _rewrite(keyring: Keyring, col: SealedColumn, stored: str | bytes) -> str | bytes | None:
    """The value to store instead, or None when it is as it should be."""
    if col.kind == "hash":
        assert isinstance(stored, str)
        hashed = keyring.lookup_hash(stored)
        return None if hashed == stored else hashed
    if kid_of(stored) == keyring.newest:
        return None
    if isinstance(stored, bytes):
        clear = keyring.open_bytes(stored, col.where, legacy=True)
        return keyring.seal_bytes(clear, col.where)
    return keyring.seal_text(keyring.open_text(stored, col.where, legacy=True), col.where)


async def _progress(conn: AsyncConnection, col: SealedColumn, kid: str) -> SealProgress:
    table = SealProgress.__table__  # type: ignore[attr-defined]
    row = (await conn.execute(select(table).where(table.c.column_name == col.where))).first()
    if row is not None and row.target_kid == kid:
        return SealProgress.model_validate(dict(row._mapping))
    fresh = SealProgress(column_name=col.where, target_kid=kid)
    if row is None:
        await conn.execute(table.insert().values(**fresh.model_dump()))
    else:  # a newer key since the last pass: start this column again
        await conn.execute(
            update(table).where(table.c.column_name == col.where).values(**fresh.model_dump())
        )
    return fresh


async def _save_progress(conn: AsyncConnection, progress: SealProgress) -> None:
    table = SealProgress.__table__  # type: ignore[attr-defined]
    await conn.execute(
        update(table)
        .where(table.c.column_name == progress.column_name)
        .values(
            last_id=progress.last_id,
            resealed=progress.resealed,
            finished_at=progress.finished_at,
        )
    )


async def _batch(
    engine: AsyncEngine, keyring: Keyring, col: SealedColumn, batch: int
) -> tuple[int, bool]:
    """One short transaction: rewrite up to `batch` rows after the recorded progress.
    Returns (values rewritten, column finished)."""
    raw = _raw_table(col)
    value = raw.c[col.column]
    async with engine.begin() as conn:
        progress = await _progress(conn, col, keyring.newest)
        if progress.finished_at is not None:
            return 0, True
        rows = (
            await conn.execute(
                select(raw.c.id, value)
                .where(raw.c.id > progress.last_id)
                .order_by(raw.c.id)
                .limit(batch)
            )
        ).all()
        done = 0
        for row_id, stored in rows:
            new = None if stored is None else _rewrite(keyring, col, stored)
            if new is None:
                continue
            if (
                col.kind == "hash"
                and (await conn.execute(select(raw.c.id).where(value == new))).first()
            ):
                continue  # the same Message-ID came again after the upgrade; keep both rows
            result = await conn.execute(
                update(raw).where(and_(raw.c.id == row_id, value == stored)).values({value: new})
            )
            done += result.rowcount
        if rows:
            progress.last_id = int(rows[-1][0])
        progress.resealed += done
        if len(rows) < batch:
            progress.finished_at = _now()
        await _save_progress(conn, progress)
        return done, progress.finished_at is not None


async def rotate(
    engine: AsyncEngine,
    keyring: Keyring,
    *,
    actor: str = "system",
    batch: int = 200,
    columns: list[SealedColumn] | None = None,
    on_batch: Callable[[str, int], None] | None = None,
    max_batches: int | None = None,
) -> RotationReport:
    """Re-seal every sealed column under `keyring.newest`, resuming a stopped pass.

    Args:
        batch: rows per transaction (each one short, so a running desk is never held up).
        on_batch: called with the column and the values rewritten after each batch (progress).
        max_batches: stop after this many batches (tests and operators who pace the pass).
    """
    report = RotationReport(target_kid=keyring.newest)
    cols = columns if columns is not None else sealed_columns()
    async with engine.begin() as conn:
        await audit.append(
            conn,
            action="keys_rotate_started",
            actor=actor,
            details={"key_id": keyring.newest, "columns": len(cols)},
        )
    batches = 0
    for col in cols:
        report.resealed.setdefault(col.where, 0)
        while True:
            if max_batches is not None and batches >= max_batches:
                return report
            done, finished = await _batch(engine, keyring, col, batch)
            batches += 1
            report.resealed[col.where] += done
            if on_batch is not None:
                on_batch(col.where, done)
            if finished:
                break
    report.finished = True
    async with engine.begin() as conn:
        await audit.append(
            conn,
            action="keys_rotate_finished",
            actor=actor,
            details={"key_id": keyring.newest, "resealed": report.total},
        )
    return report


async def stale(engine: AsyncEngine, keyring: Keyring) -> dict[str, int]:
    """Per sealed column, how many values are not (yet) as the newest key wants them: sealed
    under an older key, in clear, or a Message-ID not hashed. Reads every row."""
    found: dict[str, int] = {}
    async with engine.connect() as conn:
        for col in sealed_columns():
            raw = _raw_table(col)
            rows = await conn.execute(select(raw.c[col.column]))
            found[col.where] = sum(
                1 for (v,) in rows if v is not None and _rewrite(keyring, col, v) is not None
            )
    return found


async def restart(engine: AsyncEngine) -> None:
    """Forget the progress of earlier passes, so the next one visits every row again."""
    table = SealProgress.__table__  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.execute(table.delete())


def describe(cols: list[SealedColumn]) -> Iterator[str]:
    """One line per sealed column (for `dsr keys rotate --list`)."""
    for col in cols:
        yield f"{col.where} ({col.kind})"


__all__ = [
    "RotationReport",
    "SealProgress",
    "SealedColumn",
    "restart",
    "rotate",
    "sealed_columns",
    "stale",
]
