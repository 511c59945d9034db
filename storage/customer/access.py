"""The access package writer: `personal-data.json` and `personal-data.html`, written as rows come.

Rows are never held whole: each batch goes to both files at once. The HTML is rendered from
Jinja2 macros with autoescape on, so stored values can never inject markup. The files are the
customer's data: written 0600 in 0700 folders, whatever the umask, and removed by the desk once
the mail carrying them was accepted (`remove_package`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from html import escape
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, cast

from markupsafe import Markup

from storage.customer.desk_text import desk_text
from storage.customer.plans import AccessPackage, TableCount
from storage.customer.report_text import column_label, report_text
from storage.datamap import DataMap, Table

if TYPE_CHECKING:
    from jinja2 import Environment

JSON_NAME, HTML_NAME = "personal-data.json", "personal-data.html"
DIR_MODE, FILE_MODE = 0o700, 0o600
#: Where compiled templates are kept between processes (None: compiled by each process).
_compiled_dir: list[Path] = []


@cache
def _env() -> Environment:
    """The report's template environment, built when the first package is written (jinja2 is
    not imported by processes that only erase or change)."""
    from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape

    cache = None
    if _compiled_dir:
        _compiled_dir[0].mkdir(mode=0o700, parents=True, exist_ok=True)
        cache = FileSystemBytecodeCache(str(_compiled_dir[0]), "dsr-report-%s.cache")
    return Environment(
        loader=PackageLoader("storage", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=cache,
    )


def keep_compiled_templates(directory: Path) -> None:
    """Keep the compiled report template in `directory` for the next process (jinja2's
    bytecode cache); a `dsr store export` then starts without compiling it. Only the first
    call of a process counts."""
    if not _compiled_dir:
        _compiled_dir.append(directory)


@dataclass(frozen=True)
class DeskRequest:
    """One of the person's requests as the privacy desk keeps it (no content: the reference,
    dates, what was asked by intent label, and the outcome: done, rejected, expired, failed or
    open)."""

    reference: str
    received: date
    closed: date | None
    intents: tuple[str, ...]
    outcome: str


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents 0700 (`mkdir(parents=True)` would give the parents
    the umask's mode), and make `path` 0700 if it existed."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path, newline: str | None = None) -> IO[str]:
    """Open `path` for writing, created (or truncated) 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode through O_CREAT
    return open(fd, "w", encoding="utf-8", newline=newline)


#: Every file a package folder may hold: the access package, the Art. 20 files
#: (`storage.customer.portable`), and what a crash left half-written.
PACKAGE_FILES = ("personal-data.*", "provided-data.json*", "provided-*.csv*")


def remove_package(out_dir: Path) -> list[str]:
    """Delete an access package's files (finished or partial) and its folder when empty.

    Returns:
        The names of the files removed (none when it was gone already: idempotent).
    """
    removed: list[str] = []
    found = {p for pattern in PACKAGE_FILES for p in out_dir.glob(pattern)}
    for path in sorted(found):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path.name)
    try:
        out_dir.rmdir()
    except OSError:
        pass  # missing, or holding something that is not ours
    return removed


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False)


def _cell(value: Any, yes: str = "yes", no: str = "no") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return yes if value else no
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes").replace("+00:00", " UTC")
    return str(value)


def _row_html(row: Sequence[Any], yes: str = "yes", no: str = "no") -> Markup:
    # Every cell is escaped here (html.escape, quotes included): 100,000-row reports would
    # spend most of their time allocating one Markup per cell in the template otherwise.
    cells = [escape(v) if type(v) is str else escape(_cell(v, yes, no)) for v in row]
    return Markup("<td>" + "</td><td>".join(cells) + "</td>")  # noqa: S704


def table_info(datamap: DataMap, spec: Table) -> dict[str, Any]:
    """The Art. 15(1) information about one table, for both files."""
    categories = list(dict.fromkeys(spec.column(c).category for c in spec.columns))
    retention = spec.retention
    if retention.period:
        starts = (retention.starts or "").replace("_", " ")
        kept = retention.description or (
            f"{_period_words(retention.period)}, counted from each record's {starts}"
        )
        if retention.legal_basis:
            kept += f" ({retention.legal_basis})"
    else:
        kept = retention.description or ""
    return {
        "title": spec.title,
        "description": spec.description,
        "purposes": spec.purposes,
        "legal_basis": spec.legal_basis,
        "categories": [datamap.categories[c] for c in categories],
        "recipients": [
            r.model_dump(include={"name", "outside_eea", "safeguard"}) for r in spec.recipients
        ],
        "retention": kept,
        "source": spec.source,
        "held_as_processor_for": spec.processor_for,
    }


def _period_words(period: str) -> str:
    count, unit = int(period[:-1]), period[-1]
    word = {"d": "day", "m": "month", "y": "year"}[unit]
    return f"{count} {word}{'s' if count != 1 else ''}"


class PackageWriter:
    """Writes both files table by table; `finish()` renames them into place.

    `lang` is the customer's language: the report's own words and the reference store's column
    names are written in it (English when we have none); the data map's texts stay as written.
    `desk`, when given, is what the privacy desk itself holds about the person (their requests):
    a section of its own in both files (an empty list says there were none).
    """

    def __init__(
        self,
        out_dir: Path,
        datamap: DataMap,
        lang: str | None = None,
        desk: Sequence[DeskRequest] | None = None,
    ) -> None:
        self.out_dir, self.datamap = out_dir, datamap
        self._t = report_text(lang)
        self._desk = None if desk is None else list(desk)
        self._d = desk_text(lang)
        self._macros: Any = cast(Any, _env().get_template("personal-data.html.j2").module)
        self._json: IO[str] = private_file(out_dir / (JSON_NAME + ".part"))
        self._html: IO[str] = private_file(out_dir / (HTML_NAME + ".part"))
        self._counts: list[TableCount] = []
        self._first_table = True
        now = datetime.now(UTC)
        controller = datamap.controller.model_dump()
        self._json.write(
            '{"format":"dsr-bot access package 1","generated_at":'
            f'{json.dumps(now.isoformat())},"controller":{json.dumps(controller)},"tables":{{'
        )
        toc = [(n, t.title) for n, t in datamap.tables.items()]
        if self._desk is not None:
            toc.append(("privacy-desk", self._d["title"]))
        generated = now.strftime("%Y-%m-%d")
        self._html.write(str(self._macros.header(controller, generated, toc, self._t)))
        self._name = ""
        self._spec: Table | None = None
        self._columns: list[str] = []
        self._rows = 0

    def __enter__(self) -> PackageWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in (self._json, self._html):
            if not handle.closed:
                handle.close()
        if exc_type is not None:
            for name in (JSON_NAME, HTML_NAME):
                (self.out_dir / (name + ".part")).unlink(missing_ok=True)

    def begin_table(
        self, name: str, spec: Table, restricted: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Start one table's section in both files; `restricted` lists the Art. 18 marks on the
        subject's rows of it (`purpose`, `since`, `rows`)."""
        self._name, self._spec, self._rows = name, spec, 0
        self._columns = spec.exported()
        info = table_info(self.datamap, spec)
        if restricted:
            info["restricted"] = [dict(r) for r in restricted]
        sep = "" if self._first_table else ","
        self._first_table = False
        self._json.write(f'{sep}{json.dumps(name)}:{{"about":{json.dumps(info)},"rows":[')
        labels = [
            column_label(
                c, self._t["lang"], spec.column(c).label or c.replace("_", " ").capitalize()
            )
            for c in self._columns
        ]
        self._html.write(str(self._macros.table_start(name, info, labels, self._t)))

    def rows(self, batch: Sequence[Sequence[Any]]) -> None:
        """Append a batch of rows (values in data-map column order)."""
        if not batch:
            return
        cols, encode = self._columns, _ENCODER.encode
        parts = [encode(dict(zip(cols, row, strict=True))) for row in batch]
        self._json.write(("," if self._rows else "") + ",".join(parts))
        yes, no = self._t["yes"], self._t["no"]
        self._html.write(str(self._macros.rows([_row_html(row, yes, no) for row in batch])))
        self._rows += len(batch)

    def end_table(self) -> None:
        """Close the current table's section."""
        assert self._spec is not None
        self._json.write("]}")
        self._html.write(str(self._macros.table_end(self._rows, self._t)))
        self._counts.append(
            TableCount(self._name, self._spec.title, self._rows, self._spec.processor_for)
        )

    def _write_desk(self, requests: Sequence[DeskRequest]) -> None:
        d = self._d
        rows = [
            {
                "reference": r.reference,
                "received": r.received.isoformat(),
                "closed": r.closed.isoformat() if r.closed else None,
                "intents": list(r.intents),
                "outcome": r.outcome,
            }
            for r in requests
        ]
        section = {"about": d["intro"], "requests": rows}
        self._json.write(',"privacy_desk":' + _ENCODER.encode(section))
        cells = [
            _row_html(
                [
                    r.reference,
                    r.received.isoformat(),
                    r.closed.isoformat() if r.closed else "—",
                    ", ".join(d.get(i, i) for i in r.intents),
                    d.get(r.outcome, r.outcome),
                ]
            )
            for r in requests
        ]
        self._html.write(str(self._macros.desk(cells, d)))

    def finish(self) -> AccessPackage:
        """Write the closing parts, flush and move both files into place."""
        self._json.write("}")
        if self._desk is not None:
            self._write_desk(self._desk)
        self._json.write("}")
        self._html.write(str(self._macros.footer(self.datamap.controller.model_dump(), self._t)))
        for handle in (self._json, self._html):
            handle.close()
        json_path, html_path = self.out_dir / JSON_NAME, self.out_dir / HTML_NAME
        os.replace(self.out_dir / (JSON_NAME + ".part"), json_path)
        os.replace(self.out_dir / (HTML_NAME + ".part"), html_path)
        return AccessPackage(json_path, html_path, tuple(self._counts))
