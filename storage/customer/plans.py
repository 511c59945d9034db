"""Frozen results and plans of the executor, plain enough for Slack cards, the CLI and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.pseudonym import value_hash


@dataclass(frozen=True)
class TableCount:
    """Rows held about the subject in one table."""

    table: str
    title: str
    rows: int
    processor_for: str | None = None


@dataclass(frozen=True)
class Subject:
    """A found subject: the identity values known for it and its account's primary key.

    `keys` maps identity key -> values (from the account row, or what was asked).
    """

    keys: tuple[tuple[str, tuple[str, ...]], ...]
    account_pk: Any | None = None

    def values(self, key: str) -> tuple[str, ...]:
        """Known values of one identity key."""
        return next((v for k, v in self.keys if k == key), ())


@dataclass(frozen=True)
class SubjectMatch:
    """What `find` returns: the matching accounts and what is held, by table.

    `accounts` holds a label per account (its handle or primary key), for staff to pick from.
    """

    subject: Subject | None
    accounts: tuple[str, ...]
    tables: tuple[TableCount, ...] = ()

    @property
    def found(self) -> bool:
        """True when at least one row holds the identity."""
        return self.subject is not None or bool(self.accounts)

    @property
    def ambiguous(self) -> bool:
        """True when several accounts hold the identity."""
        return len(self.accounts) > 1


@dataclass(frozen=True)
class Selector:
    """Rows of one table: `column IN values` (ids only, never personal data)."""

    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class TableErasure:
    """What erasure does to one table."""

    table: str
    title: str
    action: str  # delete | anonymize | retain | processor
    selector: Selector
    rows: int
    deleted: int = 0
    anonymized: int = 0
    retained: int = 0
    columns: tuple[str, ...] = ()
    legal_basis: str | None = None
    kept_until: datetime | None = None
    processor_for: str | None = None


@dataclass(frozen=True)
class ErasurePlan:
    """The erasure preview; `apply_erasure` carries out exactly this."""

    tables: tuple[TableErasure, ...]
    now: datetime

    @property
    def empty(self) -> bool:
        """True when nothing is held."""
        return all(t.rows == 0 for t in self.tables)

    def lines(self) -> list[str]:
        """A human preview for staff: one line per table."""
        out = []
        for t in self.tables:
            if t.rows == 0:
                continue
            if t.action == "processor":
                out.append(f"{t.title}: {t.rows} row(s) held for {t.processor_for} — not erased")
                continue
            parts = []
            if t.deleted:
                parts.append(f"{t.deleted} deleted")
            if t.anonymized:
                parts.append(f"{t.anonymized} anonymized ({', '.join(t.columns)})")
            if t.retained:
                until = t.kept_until.date().isoformat() if t.kept_until else "?"
                parts.append(f"{t.retained} retained until {until} ({t.legal_basis})")
            out.append(f"{t.title}: " + "; ".join(parts))
        return out or ["nothing is held"]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts per table, for the audit log (no personal data)."""
        return {
            t.table: {"deleted": t.deleted, "anonymized": t.anonymized, "retained": t.retained}
            for t in self.tables
            if t.rows
        }


@dataclass(frozen=True)
class FieldChange:
    """One field to correct."""

    table: str
    column: str
    label: str
    old: Any
    new: str


@dataclass(frozen=True)
class ChangePlan:
    """A validated change; `lines()` for staff, `audit_diff(key)` for the audit log."""

    table: str
    pk_column: str
    pk: Any
    changes: tuple[FieldChange, ...]

    def lines(self) -> list[str]:
        """Human preview for staff (shows values: staff only, never logs)."""
        return [f"{c.label}: {c.old if c.old is not None else '—'} → {c.new}" for c in self.changes]

    def audit_diff(self, key: bytes) -> list[dict[str, str]]:
        """Field names and keyed value hashes, never the values."""
        return [
            {
                "table": c.table,
                "field": c.column,
                "old": value_hash(key, c.old),
                "new": value_hash(key, c.new),
            }
            for c in self.changes
        ]


@dataclass(frozen=True)
class AccessPackage:
    """The files written by `export`."""

    json_path: Path
    html_path: Path
    tables: tuple[TableCount, ...]

    @property
    def rows(self) -> int:
        """All rows exported."""
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True)
class OperationResult:
    """Outcome of apply/unsubscribe/sweep: counts per table; `replayed` when a receipt existed."""

    operation: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    replayed: bool = False


def erasure_plan_to_json(plan: ErasurePlan) -> dict[str, Any]:
    """The plan as JSON (ids and counts only), recorded before an erasure starts."""
    return {
        "now": plan.now.isoformat(),
        "tables": [
            {
                "table": t.table,
                "title": t.title,
                "action": t.action,
                "column": t.selector.column,
                "values": list(t.selector.values),
                "rows": t.rows,
                "deleted": t.deleted,
                "anonymized": t.anonymized,
                "retained": t.retained,
                "columns": list(t.columns),
                "legal_basis": t.legal_basis,
                "kept_until": t.kept_until.isoformat() if t.kept_until else None,
                "processor_for": t.processor_for,
            }
            for t in plan.tables
        ],
    }


def erasure_plan_from_json(data: dict[str, Any]) -> ErasurePlan:
    """Inverse of `erasure_plan_to_json`."""
    tables = []
    for t in data["tables"]:
        until = t.get("kept_until")
        tables.append(
            TableErasure(
                table=t["table"],
                title=t["title"],
                action=t["action"],
                selector=Selector(t["column"], tuple(t["values"])),
                rows=t["rows"],
                deleted=t["deleted"],
                anonymized=t["anonymized"],
                retained=t["retained"],
                columns=tuple(t["columns"]),
                legal_basis=t.get("legal_basis"),
                kept_until=datetime.fromisoformat(until) if until else None,
                processor_for=t.get("processor_for"),
            )
        )
    return ErasurePlan(tables=tuple(tables), now=datetime.fromisoformat(data["now"]))
