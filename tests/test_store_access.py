"""The access package writer on its own: any stored text is escaped in the HTML, kept exact in
the JSON, and a package with no rows still explains every table."""

from __future__ import annotations

import html
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.customer.access import PackageWriter
from storage.datamap import load_datamap

DATAMAP = load_datamap("storage/datamap.yaml")
CONTACT = DATAMAP.tables["contact_message"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_stored_text_is_escaped_and_exact(values: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        with PackageWriter(out, DATAMAP) as writer:
            writer.begin_table("contact_message", CONTACT)
            now = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
            writer.rows([(v, v, v, v, v, v, now) for v in values])
            writer.end_table()
            package = writer.finish()
        with package.html_path.open(encoding="utf-8", newline="") as handle:
            page = handle.read()
        rows = json.loads(package.json_path.read_text())["tables"]["contact_message"]["rows"]
    assert [r["body"] for r in rows] == values
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    for value in values:
        assert html.escape(value, quote=True) in body
    assert body.count("<tr>") == len(values)
    assert "<" not in body.replace("<tr>", "").replace("</tr>", "").replace("<td>", "").replace(
        "</td>", ""
    )


def test_empty_package_still_explains_each_table(tmp_path: Path) -> None:
    with PackageWriter(tmp_path, DATAMAP) as writer:
        for name, spec in DATAMAP.tables.items():
            writer.begin_table(name, spec)
            writer.end_table()
        package = writer.finish()
    page = package.html_path.read_text()
    assert page.count("We hold no data of this kind about you.") == len(DATAMAP.tables)
    assert package.rows == 0
    data = json.loads(package.json_path.read_text())
    assert set(data["tables"]) == set(DATAMAP.tables)
    assert data["tables"]["invoice"]["about"]["retention"].startswith("Ten years")


def test_failed_export_leaves_no_half_written_files(tmp_path: Path) -> None:
    try:
        with PackageWriter(tmp_path, DATAMAP) as writer:
            writer.begin_table("contact_message", CONTACT)
            raise RuntimeError("database went away")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []
