"""The portable export (Art. 20 GDPR): only the data the customer *provided*, machine-readable.

Beside the access package: `provided-data.json` (one object per table, rows as objects) and one
CSV per table (`provided-<table>.csv`, a header row, UTF-8). Which tables and columns count as
provided is the data map's `provided`; observed data (logs, cookies) and derived data
(invoices, numbers we assigned) stay in the access package only.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from storage.datamap import DataMap

JSON_NAME = "provided-data.json"


def csv_name(table: str) -> str:
    """The CSV file of one table."""
    return f"provided-{table}.csv"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True)
class PortableExport:
    """The files written, and the row count per table."""

    files: tuple[Path, ...]
    rows: Mapping[str, int]


def write_portable(
    out_dir: Path,
    datamap: DataMap,
    rows: Mapping[str, Sequence[Sequence[Any]]],
    now: datetime | None = None,
) -> PortableExport:
    """Write the JSON and one CSV per provided table (files replaced atomically).

    Args:
        rows: table -> rows whose values are in `Table.provided_columns()` order.
    """
    now = now or datetime.now(UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc: dict[str, Any] = {
        "format": "dsr-bot portable data 1",
        "generated_at": now.isoformat(),
        "controller": datamap.controller.name,
        "about": "The personal data you provided to us (Art. 20 GDPR), as JSON and CSV. "
        "Data we observed or derived is in the access package.",
        "tables": {},
    }
    files: list[Path] = []
    counts: dict[str, int] = {}
    for name, spec in datamap.tables.items():
        cols = spec.provided_columns()
        if not cols:
            continue
        table_rows = rows.get(name, ())
        counts[name] = len(table_rows)
        doc["tables"][name] = {
            "title": spec.title,
            "rows": [{c: _plain(v) for c, v in zip(cols, r, strict=True)} for r in table_rows],
        }
        path = out_dir / csv_name(name)
        part = path.with_suffix(".csv.part")
        with open(part, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(cols)
            for r in table_rows:
                writer.writerow(["" if v is None else _plain(v) for v in r])
        os.replace(part, path)
        files.append(path)
    path = out_dir / JSON_NAME
    part = path.with_suffix(".json.part")
    part.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(part, path)
    return PortableExport(files=(path, *files), rows=counts)


__all__ = ["JSON_NAME", "PortableExport", "csv_name", "write_portable"]
