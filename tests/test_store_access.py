"""The access package writer on its own: any stored text is escaped in the HTML, kept exact in
the JSON, and a package with no rows still explains every table."""

from __future__ import annotations

import html
import json
import os
import stat
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.customer.access import DeskRequest, PackageWriter, private_dir, remove_package
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


def test_the_desks_own_records_are_a_section_of_the_package(tmp_path: Path) -> None:
    earlier = DeskRequest("DSR-3", date(2026, 1, 5), date(2026, 1, 9), ("unsubscribe",), "done")
    now = DeskRequest("DSR-8", date(2026, 3, 1), None, ("see", "delete"), "open")
    with PackageWriter(private_dir(tmp_path / "de"), DATAMAP, "de", desk=[earlier, now]) as writer:
        package = writer.finish()
    data = json.loads(package.json_path.read_text())
    assert data["privacy_desk"]["requests"] == [
        {
            "reference": "DSR-3",
            "received": "2026-01-05",
            "closed": "2026-01-09",
            "intents": ["unsubscribe"],
            "outcome": "done",
        },
        {
            "reference": "DSR-8",
            "received": "2026-03-01",
            "closed": None,
            "intents": ["see", "delete"],
            "outcome": "open",
        },
    ]
    page = package.html_path.read_text()
    assert "Ihre Anfragen an unser Datenschutz-Team" in page  # in the contents and as a heading
    assert page.count('href="#privacy-desk"') == 1 and 'id="privacy-desk"' in page
    assert "<td>keine Werbung mehr</td><td>erledigt</td>" in page
    assert "<td>eine Kopie Ihrer Daten, Löschung</td><td>in Bearbeitung</td>" in page
    # a staff export (no desk records given) has no such section; an empty list says "none"
    with PackageWriter(private_dir(tmp_path / "staff"), DATAMAP) as writer:
        staff = writer.finish()
    assert "privacy_desk" not in json.loads(staff.json_path.read_text())
    with PackageWriter(private_dir(tmp_path / "none"), DATAMAP, desk=[]) as writer:
        empty = writer.finish()
    assert "No earlier requests." in empty.html_path.read_text()


def test_package_files_are_private_and_removed_whole(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = private_dir(tmp_path / "packages" / "DSR-1")
        with PackageWriter(out, DATAMAP) as writer:
            package = writer.finish()
    finally:
        os.umask(old)
    for path in (package.json_path, package.html_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (out, out.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(remove_package(out)) == ["personal-data.html", "personal-data.json"]
    assert not out.exists() and remove_package(out) == []  # idempotent
