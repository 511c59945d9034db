"""The data map: the default loads; typos and contradictions are refused naming table/column."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Column, Integer, MetaData, String, Table

from storage.customer.errors import DataMapError
from storage.datamap import load_datamap, parse_datamap, period_cutoff, period_end

DEFAULT = Path("storage/datamap.yaml")
RAW: dict[str, Any] = yaml.safe_load(DEFAULT.read_text())


def test_default_map_loads_and_orders_parents_first() -> None:
    dm = load_datamap(DEFAULT)
    assert dm.account_table == "customer"
    order = dm.parents_first()
    assert order.index("customer") < order.index("invoice")
    assert dm.tables["domain_registration"].processor_for


def _edit(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(RAW)
    fn(raw)
    return raw


CASES: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    (
        "unknown-category",
        lambda r: r["tables"]["invoice"]["columns"].update(number="billling"),
        ["'invoice'", "'number'", "billling"],
    ),
    (
        "typo-in-field",
        lambda r: r["tables"]["invoice"].update(purpose=["x"]),
        ["'invoice'", "purpose"],
    ),
    (
        "bad-period",
        lambda r: r["tables"]["invoice"]["retention"].update(period="ten years"),
        ["'invoice'", "retention.period"],
    ),
    (
        "retain-without-period",
        lambda r: r["tables"]["activity_log"].update(retention={"description": "a while"}),
        ["'activity_log'", "retention.period"],
    ),
    (
        "via-unknown-table",
        lambda r: r["tables"]["invoice"]["find"].update(via="customers"),
        ["'invoice'", "'customers'"],
    ),
    (
        "bad-rectify-kind",
        lambda r: r["tables"]["customer"]["columns"].update(
            phone={"category": "contact", "rectify": "telephone"}
        ),
        ["'customer'", "'phone'", "rectify"],
    ),
    (
        "unknown-identity-key",
        lambda r: r["tables"]["contact_message"]["find"].update(identity={"mail": "email"}),
        ["'contact_message'", "'mail'"],
    ),
    (
        "delete-parent-of-kept-rows",
        lambda r: r["tables"]["customer"].update(erasure={"action": "delete"}),
        ["'customer'", "'activity_log'"],
    ),
    (
        "anonymize-without-columns",
        lambda r: r["tables"]["customer"].update(erasure={"action": "anonymize"}),
        ["'customer'", "anonymize"],
    ),
    (
        "unsubscribe-unknown-table",
        lambda r: r["unsubscribe"].update(delete=["newsletter"]),
        ["'newsletter'"],
    ),
    (
        "recipient-bad-address",
        lambda r: r["tables"]["invoice"]["recipients"][0].update(contact="tax advisers"),
        ["'invoice'", "recipient 'Our tax advisers", "not an e-mail address"],
    ),
    (
        "recipient-webhook-plain-http",
        lambda r: _recipient(r, "usersnap").update(contact="http://hooks.example.com/x"),
        ["'tracking_identifier'", "'Usersnap GmbH'", "https://"],
    ),
    (
        "recipient-webhook-unsigned",
        lambda r: _recipient(r, "usersnap").pop("secret"),
        ["'tracking_identifier'", "'Usersnap GmbH'", "DSR_WEBHOOK_SECRETS"],
    ),
    (
        "recipient-unknown-identifier",
        lambda r: _recipient(r, "meta-pixel").update(identifiers=["cookie"]),
        ["'tracking_identifier'", "'cookie'", "identifier"],
    ),
    (
        "recipient-without-identifiers",
        lambda r: _recipient(r, "meta-pixel").update(identifiers=[]),
        ["'tracking_identifier'", "identifiers"],
    ),
    (
        "recipient-email-channel-without-contact",
        lambda r: _recipient(r, "yandex-metrica").update(channel="email"),
        ["'Yandex Metrica", "needs a contact"],
    ),
    (
        "recipient-language",
        lambda r: _recipient(r, "meta-pixel").update(language="English"),
        ["'tracking_identifier'", "'English'"],
    ),
    (
        "recipient-key-twice",
        lambda r: r["tables"]["invoice"]["recipients"][0].update(key="meta-pixel"),
        ["'invoice'", "'meta-pixel'", "'tracking_identifier'"],
    ),
    (
        "processor-contact-column",
        lambda r: r["tables"]["domain_registration"]["processor_contacts"].update(column="seller"),
        ["'domain_registration'", "'seller'"],
    ),
    (
        "processor-contact-address",
        lambda r: r["tables"]["domain_registration"]["processor_contacts"]["contacts"][
            "NetShop SARL"
        ].update(contact="netshop"),
        ["'domain_registration'", "'NetShop SARL'", "e-mail address"],
    ),
]


def _recipient(raw: dict[str, Any], key: str) -> dict[str, Any]:
    """The raw entry of recipient `key` (edited in place by a case)."""
    for table in raw["tables"].values():
        for r in table.get("recipients", []):
            if r.get("key") == key:
                return r  # the dict itself, edited in place
    raise KeyError(key)


def test_recipients_channels_and_portable_columns() -> None:
    dm = load_datamap(DEFAULT)
    vias = {r.ident: r.via for t in dm.tables.values() for r in t.recipients}
    assert vias["google-analytics"] == "email"
    assert vias["usersnap"] == "webhook"
    assert vias["yandex-metrica"] == "manual"  # no contact: told by hand
    assert vias["tax-advisers"] == "email"
    assert "handle" not in dm.tables["customer"].provided_columns()  # assigned by us
    assert "email" in dm.tables["customer"].provided_columns()
    assert dm.tables["activity_log"].provided_columns() == []  # observed, not provided


def test_an_old_map_without_contacts_stays_valid() -> None:
    def strip(r: dict[str, Any]) -> None:
        for table in r["tables"].values():
            table["recipients"] = [
                {k: v for k, v in x.items() if k in ("name", "outside_eea", "safeguard")}
                for x in table.get("recipients", [])
            ]
            table.pop("processor_contacts", None)
            table.pop("provided", None)

    dm = parse_datamap(_edit(strip))
    assert {r.via for t in dm.tables.values() for r in t.recipients} == {"manual"}


@pytest.mark.parametrize(("edit", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_errors_name_the_table_and_column(
    edit: Callable[[dict[str, Any]], None], needles: list[str]
) -> None:
    with pytest.raises(DataMapError) as info:
        parse_datamap(_edit(edit))
    for needle in needles:
        assert needle in str(info.value)


def test_email_match_defaults_to_exact_and_refuses_other_values() -> None:
    assert load_datamap(DEFAULT).email_match == "exact"
    assert not load_datamap(DEFAULT).casefold_email
    assert parse_datamap(_edit(lambda r: r.update(email_match="casefold"))).casefold_email
    for bad in ("lower", "CASEFOLD", True):
        with pytest.raises(DataMapError) as info:
            parse_datamap(_edit(lambda r, bad=bad: r.update(email_match=bad)))
        message = str(info.value)
        assert "email_match" in message and "'exact'" in message and "'casefold'" in message


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(DataMapError, match="DSR_DATAMAP"):
        load_datamap(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: [unclosed")
    with pytest.raises(DataMapError, match="not valid YAML"):
        load_datamap(bad)


def _db() -> MetaData:
    md = MetaData()
    Table("people", md, Column("id", Integer, primary_key=True), Column("mail", String))
    Table(
        "visits",
        md,
        Column("id", Integer, primary_key=True),
        Column("person", Integer),
        Column("ip", String, nullable=False),
    )
    return md


def _small(**visit_erasure: Any) -> dict[str, Any]:
    common = {
        "purposes": ["p"],
        "legal_basis": "b",
        "source": "s",
        "retention": {"description": "d"},
    }
    return {
        "version": 1,
        "controller": {"name": "n", "contact": "c", "authority": "a"},
        "identity_keys": {"email": "e-mail"},
        "categories": {"c": "C"},
        "tables": {
            "people": {
                **common,
                "title": "P",
                "role": "account",
                "find": {"identity": {"email": "mail"}},
                "columns": {"mail": "c"},
                "erasure": {"action": "anonymize", "columns": ["mail"]},
            },
            "visits": {
                **common,
                "title": "V",
                "find": {"via": "people", "column": "person"},
                "columns": {"ip": "c"},
                "erasure": visit_erasure,
            },
        },
    }


def test_checked_against_the_database() -> None:
    parse_datamap(_small(action="anonymize", columns={"ip": "0.0.0.0"})).check_against(_db())
    with pytest.raises(DataMapError, match=r"'visits' column 'ip'.*NOT NULL"):
        parse_datamap(_small(action="anonymize", columns=["ip"])).check_against(_db())
    raw = _small(action="delete")
    raw["tables"]["visits"]["columns"]["ipaddr"] = "c"
    with pytest.raises(DataMapError, match=r"'visits' names column 'ipaddr'"):
        parse_datamap(raw).check_against(_db())
    raw = _small(action="delete")
    raw["tables"]["visitz"] = raw["tables"].pop("visits")
    with pytest.raises(DataMapError, match=r"'visitz' does not exist"):
        parse_datamap(raw).check_against(_db())


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("10y", datetime(2016, 2, 29, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)),
        ("6m", datetime(2026, 8, 31, tzinfo=UTC), datetime(2027, 2, 28, tzinfo=UTC)),
        ("30d", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)),
    ],
    ids=["leap-day", "month-end", "days"],
)
def test_periods(period: str, start: datetime, end: datetime) -> None:
    assert period_end(period, start) == end
    assert period_cutoff(period, end) <= start


@pytest.mark.parametrize(
    "module", ["storage.datamap", "storage.customer.schema", "storage.retention", "bot.cli.store"]
)
def test_each_module_imports_first_without_a_cycle(module: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-500:]
