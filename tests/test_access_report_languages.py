"""The access report (personal-data.html) in every language we answer in: its own words, the
reference store's column names and yes/no cells in the customer's language, the data map's texts
as written, stored values still escaped; the access mail names the files the package really has."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mail.i18n import LANGUAGES
from storage.customer.access import HTML_NAME, JSON_NAME, PackageWriter
from storage.customer.report_text import column_label, report_text
from storage.datamap import load_datamap

DATAMAP = load_datamap("storage/datamap.yaml")
ENGLISH = report_text("en")


def _write(tmp: Path, lang: str) -> str:
    with PackageWriter(tmp, DATAMAP, lang) as writer:
        for name, spec in DATAMAP.tables.items():
            writer.begin_table(name, spec)
            if name == "customer":
                values = {
                    "handle": "C-1",
                    "username": "alice",
                    "email": "alice@example.org",
                    "name": "<b>Alice</b>",
                    "company": "",
                    "phone": "+49301234567",
                    "street": "Hauptstr. 1",
                    "postal_code": "10115",
                    "city": "Berlin",
                    "country": "DE",
                    "marketing_consent": True,
                    "created_at": datetime(2026, 1, 2, tzinfo=UTC),
                }
                writer.rows([tuple(values[c] for c in spec.exported())])
            writer.end_table()
        package = writer.finish()
    assert package.html_path.name == HTML_NAME and package.json_path.name == JSON_NAME
    return package.html_path.read_text(encoding="utf-8")


def test_every_language_we_answer_in_has_the_report() -> None:
    from storage.customer.report_text import LANGUAGES as REPORT_LANGUAGES

    assert set(REPORT_LANGUAGES) == set(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_report_speaks_the_customers_language(tmp_path: Path, lang: str) -> None:
    page = _write(tmp_path, lang)
    t = report_text(lang)
    assert f'<html lang="{lang}">' in page
    for key in ("why", "basis", "recipients", "how_long", "source", "rights", "empty"):
        assert t[key].replace("'", "&#39;") in page, key
    assert t["complaint"].split("{")[0].replace("'", "&#39;") in page
    headings = re.findall(r"<th>(.*?)</th>", page)
    assert column_label("phone", lang, "Telephone") in headings
    assert column_label("postal_code", lang, "Postal code") in headings
    assert f"<td>{t['yes']}</td>" in page  # marketing consent
    assert "&lt;b&gt;Alice&lt;/b&gt;" in page and "<b>Alice</b>" not in page
    assert DATAMAP.tables["invoice"].title in page  # the data map's own words, as written
    if lang != "en":
        for key in ("why", "how_long", "nobody", "empty", "contact"):
            assert ENGLISH[key] not in page, key


def test_an_unknown_language_gets_english(tmp_path: Path) -> None:
    page = _write(tmp_path, "tr")
    assert '<html lang="en">' in page and ENGLISH["why"] in page


def test_a_column_of_another_schema_keeps_its_data_map_label() -> None:
    assert column_label("loyalty_tier", "de", "Loyalty tier") == "Loyalty tier"
    assert column_label("phone", "de", "Telephone") == "Telefonnummer"
