"""The data map: which tables hold a subject's data, why, for whom, how long, how to erase it.

`load_datamap(path)` parses and checks the YAML on its own; `DataMap.check_against(metadata)`
checks it against the reflected database. Every error names the table and column and the fix.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import MetaData

from storage.errors import DataMapError

RECTIFY_KINDS = ("email", "phone", "name", "postal_code", "country", "text")
_PERIOD = re.compile(r"^(\d{1,4})\s*([dmy])$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_LOOPBACK_URL = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")


class Recipient(_Strict):
    """Who receives the data, whether outside the EEA (with the safeguard), and how they are
    told of an erasure or correction (Art. 17(2), 19).

    `contact` is an e-mail address or an https webhook URL (`channel` follows from it; no
    contact means `manual`: staff tell them by hand). `identifiers` are the columns of this
    table that the recipient holds (a cookie id, not the whole profile) and are all its mail
    carries; `where` limits the rows to those naming this recipient (e.g. `recipient: Usersnap`).
    `secret` names the key in `DSR_WEBHOOK_SECRETS` that signs its webhook.
    """

    name: str
    outside_eea: bool = False
    safeguard: str | None = None
    key: str | None = None
    contact: str | None = None
    channel: Literal["email", "webhook", "manual"] | None = None
    language: str = "en"
    identifiers: list[str] = Field(default_factory=list)
    where: dict[str, str] = Field(default_factory=dict)
    secret: str | None = None

    @property
    def ident(self) -> str:
        """A stable key naming this recipient in tasks, the audit log and commands."""
        return self.key or slug(self.name)

    @property
    def via(self) -> Literal["email", "webhook", "manual"]:
        """How it is told: the channel given, or the one its contact implies (none: manual)."""
        if self.channel is not None:
            return self.channel
        if self.contact is None:
            return "manual"
        return "webhook" if "://" in self.contact else "email"


def slug(text: str) -> str:
    """A lower-case ASCII key from a name (`Google Analytics (Google…)` -> `google-analytics`)."""
    head = text.split("(")[0]
    return re.sub(r"[^a-z0-9]+", "-", head.lower()).strip("-")[:40] or "recipient"


class ProcessorContact(_Strict):
    """The controller we process a row for (a reseller): its address and language."""

    contact: str
    language: str = "en"


class ProcessorContacts(_Strict):
    """Which column names the controller of a row, and how each one is reached; `identifiers`
    are the columns a forwarded request carries (e.g. the domain)."""

    column: str
    identifiers: list[str] = Field(default_factory=list)
    contacts: dict[str, ProcessorContact] = Field(default_factory=dict)


class Retention(_Strict):
    """How long rows are kept: a period counted from a column, or a plain description."""

    period: str | None = None
    starts: str | None = Field(default=None, alias="from")
    legal_basis: str | None = None
    description: str | None = None

    @field_validator("period")
    @classmethod
    def _period(cls, value: str | None) -> str | None:
        if value is not None and not _PERIOD.match(value.strip()):
            raise ValueError(f"period {value!r} must look like 30d, 6m or 10y")
        return value

    def cutoff(self, now: datetime) -> datetime:
        """The instant before which rows have left retention (`now` minus the period)."""
        assert self.period is not None
        return period_cutoff(self.period, now)

    def until(self, start: datetime) -> datetime:
        """The end of retention for a row whose period starts at `start`."""
        assert self.period is not None
        return period_end(self.period, start)


def _split(period: str) -> tuple[int, str]:
    match = _PERIOD.match(period.strip())
    if match is None:
        raise DataMapError(f"retention period {period!r} must look like 30d, 6m or 10y")
    return int(match.group(1)), match.group(2)


def period_cutoff(period: str, now: datetime) -> datetime:
    """`now` minus a period such as `10y`: rows starting before it have left retention."""
    count, unit = _split(period)
    return shift(now, -count, unit)


def period_end(period: str, start: datetime) -> datetime:
    """`start` plus a period: the end of retention."""
    count, unit = _split(period)
    return shift(start, count, unit)


def shift(moment: datetime, count: int, unit: str) -> datetime:
    """`moment` moved by `count` days, months or years (clamping 29-31 to the month's end)."""
    if unit == "d":
        return moment + timedelta(days=count)
    months = count * (12 if unit == "y" else 1)
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


class Column(_Strict):
    """One column's data category and, when staff may correct it, how it is validated."""

    category: str
    rectify: Literal["email", "phone", "name", "postal_code", "country", "text"] | None = None
    label: str | None = None
    export: bool = True  # False: described in the report, value not copied (e.g. password hash)
    provided: bool | None = None  # given by the customer (Art. 20); None: the table's `provided`


class Find(_Strict):
    """How rows are found: identity columns (key name -> column), or a foreign key `via`."""

    identity: dict[str, str] | None = None
    via: str | None = None
    column: str | None = None
    references: str | None = None


class Erasure(_Strict):
    """`delete`, `anonymize` listed columns, or `retain` (optionally anonymizing some now)."""

    action: Literal["delete", "anonymize", "retain"]
    columns: dict[str, Any] | list[str] = Field(default_factory=list)

    def replacements(self) -> dict[str, Any]:
        """Column -> value written on anonymization (None: NULL)."""
        if isinstance(self.columns, list):
            return dict.fromkeys(self.columns)
        return dict(self.columns)


class Table(_Strict):
    """Everything the executor and the access report need to know about one table."""

    title: str
    description: str | None = None
    role: Literal["account"] | None = None
    find: Find
    primary_key: str | None = None
    columns: dict[str, Column | str]
    purposes: list[str]
    legal_basis: str
    recipients: list[Recipient] = Field(default_factory=list)
    source: str
    retention: Retention
    erasure: Erasure
    processor_for: str | None = None
    processor_contacts: ProcessorContacts | None = None
    #: The customer gave this table's data (Art. 20 portability), unless a column says otherwise.
    provided: bool = False

    def column(self, name: str) -> Column:
        """The column spec, expanding the short form `name: category`."""
        spec = self.columns[name]
        return Column(category=spec) if isinstance(spec, str) else spec

    def provided_columns(self) -> list[str]:
        """Exported columns holding data the customer provided (for the portable export)."""
        out = []
        for name in self.exported():
            flag = self.column(name).provided
            if flag or (flag is None and self.provided):
                out.append(name)
        return out

    def exported(self) -> list[str]:
        """Columns whose values go into the access package."""
        return [c for c in self.columns if self.column(c).export]


class Unsubscribe(_Strict):
    """What opting out does: delete rows of tables found by e-mail, set consent columns."""

    delete: list[str] = Field(default_factory=list)
    set: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Controller(_Strict):
    """Who is responsible, for the access report."""

    name: str
    contact: str
    authority: str
    authority_url: str | None = None


class DataMap(_Strict):
    """The whole data map; table order is the report's order."""

    version: Literal[1]
    controller: Controller
    identity_keys: dict[str, str]
    categories: dict[str, str]
    tables: dict[str, Table]
    unsubscribe: Unsubscribe = Field(default_factory=Unsubscribe)
    email_match: Literal["exact", "casefold"] = "exact"

    @property
    def casefold_email(self) -> bool:
        """True when e-mail identity columns are compared lower-cased on both sides."""
        return self.email_match == "casefold"

    @property
    def account_table(self) -> str | None:
        """The table with `role: account`, if any."""
        return next((n for n, t in self.tables.items() if t.role == "account"), None)

    def parents_first(self) -> list[str]:
        """Table names ordered so that every `via` parent comes before its children."""
        order: list[str] = []
        while len(order) < len(self.tables):
            for name, table in self.tables.items():
                if name not in order and (table.find.via is None or table.find.via in order):
                    order.append(name)
        return order

    def check_against(self, metadata: MetaData) -> None:
        """Check every table, column and key against the reflected database.

        Raises:
            DataMapError: naming the first table/column that does not exist or does not fit.
        """
        for name, table in self.tables.items():
            db = metadata.tables.get(name)
            if db is None:
                raise DataMapError(
                    f"data map table {name!r} does not exist in the customer database "
                    f"(mapped tables found there: {', '.join(sorted(metadata.tables)) or 'none'}); "
                    "fix the name in the data map, point DSR_CUSTOMER_DATABASE_URL at the right "
                    "database, or create the reference store with `dsr store init`"
                )
            wanted = set(table.columns) | set(table.erasure.replacements())
            wanted |= set((table.find.identity or {}).values())
            wanted |= {c for c in (table.find.column, table.retention.starts) if c}
            wanted |= set(self.unsubscribe.set.get(name, {}))
            for recipient in table.recipients:
                wanted |= set(recipient.identifiers) | set(recipient.where)
            if table.processor_contacts is not None:
                wanted |= {table.processor_contacts.column, *table.processor_contacts.identifiers}
            for col in sorted(wanted):
                if col not in db.c:
                    raise DataMapError(
                        f"data map table {name!r} names column {col!r}, which the database "
                        f"table does not have; columns there: {', '.join(db.c.keys())}"
                    )
            if table.primary_key is None and not list(db.primary_key.columns):
                raise DataMapError(
                    f"data map table {name!r}: the table has no primary key; set primary_key"
                )
            if table.find.via:
                ref = table.find.references or _pk(metadata, table.find.via, self)
                if ref not in metadata.tables[table.find.via].c:
                    raise DataMapError(
                        f"data map table {name!r}: find.references {ref!r} is not a column of "
                        f"{table.find.via!r}"
                    )
            for col, value in table.erasure.replacements().items():
                if value is None and not db.c[col].nullable:
                    raise DataMapError(
                        f"data map table {name!r} column {col!r}: anonymized to NULL but the "
                        "column is NOT NULL; give a replacement value (columns: {col: value})"
                    )

    def primary_key_of(self, name: str, metadata: MetaData) -> str:
        """The primary-key column of a mapped table."""
        return _pk(metadata, name, self)


def _pk(metadata: MetaData, name: str, datamap: DataMap) -> str:
    explicit = datamap.tables[name].primary_key
    if explicit:
        return explicit
    cols = list(metadata.tables[name].primary_key.columns)
    if len(cols) != 1:
        raise DataMapError(
            f"data map table {name!r}: primary key has {len(cols)} columns; set primary_key"
        )
    return str(cols[0].name)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "tables":
        where = f"table {parts[1]!r}"
        if len(parts) >= 4 and parts[2] == "columns":
            where += f" column {parts[3]!r}"
            rest = [p for p in parts[4:] if p not in ("Column", "str")]
        else:
            rest = parts[2:]
        return where + (f" field {'.'.join(rest)!r}" if rest else "")
    return "field " + repr(".".join(parts)) if parts else "top level"


def _semantic(dm: DataMap) -> None:
    names = set(dm.tables)
    for name, table in dm.tables.items():
        where = f"data map table {name!r}"
        find = table.find
        if bool(find.identity) == bool(find.via):
            raise DataMapError(f"{where}: find needs exactly one of identity or via")
        for key in find.identity or {}:
            if key not in dm.identity_keys:
                raise DataMapError(
                    f"{where}: identity key {key!r} is not declared in identity_keys "
                    f"({', '.join(dm.identity_keys)})"
                )
        if find.via is not None:
            if find.via not in names:
                raise DataMapError(f"{where}: find.via names {find.via!r}, not a mapped table")
            if not find.column:
                raise DataMapError(f"{where}: find.via needs find.column (the foreign key)")
        for col in table.columns:
            category = table.column(col).category
            if category not in dm.categories:
                raise DataMapError(
                    f"{where} column {col!r}: category {category!r} is not declared in "
                    f"categories ({', '.join(dm.categories)})"
                )
        erasure, retention = table.erasure, table.retention
        if erasure.action == "anonymize" and not erasure.replacements():
            raise DataMapError(f"{where}: erasure anonymize needs the columns to anonymize")
        if erasure.action == "delete" and erasure.replacements():
            raise DataMapError(f"{where}: erasure delete takes no columns")
        if (
            erasure.action == "retain"
            and not table.processor_for
            and not (retention.period and retention.starts and retention.legal_basis)
        ):
            raise DataMapError(
                f"{where}: erasure retain needs retention.period, retention.from and "
                "retention.legal_basis (what law requires keeping, and for how long)"
            )
        if bool(retention.period) != bool(retention.starts):
            raise DataMapError(f"{where}: retention.period and retention.from go together")
        if not (retention.period or retention.description):
            raise DataMapError(f"{where}: retention needs a period or a description")
        for recipient in table.recipients:
            _check_recipient(where, table, recipient)
        _check_processor(where, table)
    _check_recipient_keys(dm)
    for name in [*dm.unsubscribe.delete, *dm.unsubscribe.set]:
        if name not in names:
            raise DataMapError(f"data map unsubscribe names {name!r}, not a mapped table")
        if "email" not in (dm.tables[name].find.identity or {}):
            raise DataMapError(
                f"data map unsubscribe names table {name!r}, which is not found by e-mail; "
                "give it find.identity with an email column"
            )
    _check_graph(dm)


def _check_recipient(where: str, table: Table, r: Recipient) -> None:
    here = f"{where} recipient {r.name!r}"
    via, contact = r.via, r.contact
    if via != "manual" and contact is None:
        raise DataMapError(f"{here}: channel {via} needs a contact (an address or an https URL)")
    if via == "email" and (contact is None or not _ADDRESS.match(contact)):
        raise DataMapError(f"{here}: contact {contact!r} is not an e-mail address")
    if via == "webhook":
        if contact is None or not (contact.startswith("https://") or _LOOPBACK_URL.match(contact)):
            raise DataMapError(
                f"{here}: webhook contact {contact!r} must be an https:// URL "
                "(plain http only on loopback)"
            )
        if not r.secret:
            raise DataMapError(
                f"{here}: a webhook is signed; name its signing key with secret: "
                "(see DSR_WEBHOOK_SECRETS)"
            )
    if not _LANGUAGE.match(r.language):
        raise DataMapError(f"{here}: language {r.language!r} must be a two-letter code (en, de…)")
    for col in [*r.identifiers, *r.where]:
        if col not in table.columns:
            raise DataMapError(
                f"{here}: {col!r} is not a mapped column of the table "
                f"(columns: {', '.join(table.columns)})"
            )
    if via != "manual" and not r.identifiers:
        raise DataMapError(
            f"{here}: list the identifiers (columns) this recipient holds, so its message "
            "can name the data concerned"
        )


def _check_processor(where: str, table: Table) -> None:
    pc = table.processor_contacts
    if pc is None:
        return
    if not table.processor_for:
        raise DataMapError(f"{where}: processor_contacts needs processor_for")
    for col in [pc.column, *pc.identifiers]:
        if col not in table.columns:
            raise DataMapError(
                f"{where} processor_contacts: {col!r} is not a mapped column of the table"
            )
    for name, c in pc.contacts.items():
        if not _ADDRESS.match(c.contact):
            raise DataMapError(
                f"{where} processor_contacts {name!r}: contact {c.contact!r} is not an "
                "e-mail address"
            )
        if not _LANGUAGE.match(c.language):
            raise DataMapError(
                f"{where} processor_contacts {name!r}: language {c.language!r} must be a "
                "two-letter code"
            )


def _check_recipient_keys(dm: DataMap) -> None:
    """One key, one recipient: the same key in two tables must name the same contact."""
    seen: dict[str, tuple[str, str | None]] = {}
    for name, table in dm.tables.items():
        for r in table.recipients:
            first = seen.setdefault(r.ident, (name, r.contact))
            if first[1] != r.contact:
                raise DataMapError(
                    f"data map table {name!r} recipient {r.name!r}: key {r.ident!r} is also "
                    f"used in table {first[0]!r} with another contact; give each its own key:"
                )


def _check_graph(dm: DataMap) -> None:
    for name in dm.tables:
        seen, cur = {name}, dm.tables[name].find.via
        while cur is not None:
            if cur in seen:
                raise DataMapError(f"data map table {name!r}: find.via forms a cycle via {cur!r}")
            seen.add(cur)
            cur = dm.tables[cur].find.via
    for name, table in dm.tables.items():
        parent = table.find.via
        if parent is None or dm.tables[parent].processor_for:
            continue
        if dm.tables[parent].erasure.action in ("delete", "retain") and (
            table.erasure.action != "delete"
        ):
            raise DataMapError(
                f"data map table {parent!r} has its rows deleted on erasure (at once or when "
                f"retention ends) but {name!r} keeps rows that refer to it; delete {name!r} "
                f"on erasure too, or anonymize {parent!r}"
            )
    accounts = [n for n, t in dm.tables.items() if t.role == "account"]
    if len(accounts) > 1:
        raise DataMapError(f"data map: only one table may have role account ({accounts})")


def parse_datamap(raw: Any, source: str = "data map") -> DataMap:
    """Validate an already-parsed YAML document.

    Raises:
        DataMapError: naming the table, column and field at fault.
    """
    try:
        dm = DataMap.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataMapError(
            f"{source}: {_where(tuple(err['loc']))}: {err['msg']} "
            f"({len(exc.errors())} problem(s) in all); fix the YAML and restart"
        ) from None
    _semantic(dm)
    return dm


def load_datamap(path: Path | str) -> DataMap:
    """Read and validate the data map file (`DSR_DATAMAP`).

    Raises:
        DataMapError: the file is missing, not YAML, or names the table/column at fault.
    """
    path = Path(path)
    try:
        # libyaml's loader when PyYAML has it: ten times faster, and every command reads the map
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe)
    except FileNotFoundError:
        raise DataMapError(
            f"data map {path} does not exist; set DSR_DATAMAP to your data map file"
        ) from None
    except yaml.YAMLError as exc:
        raise DataMapError(f"data map {path} is not valid YAML: {exc}") from None
    return parse_datamap(raw, str(path))


__all__ = [
    "RECTIFY_KINDS",
    "DataMap",
    "ProcessorContacts",
    "Recipient",
    "Table",
    "load_datamap",
    "parse_datamap",
    "period_cutoff",
    "period_end",
    "slug",
]
