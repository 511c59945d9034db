"""Who else holds a subject's data: the data map's recipients with rows of this subject (with
only the identifiers each one holds), and the controllers we process rows for (resellers).

Reads only; the case store decides what to do with it (`bot.case.recipients`). Values read here
are the customer's identifiers: they go into the recipient's own message, never into logs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select

from storage.customer.plans import Selector
from storage.datamap import DataMap

if TYPE_CHECKING:  # the async API only as a type: `dsr store` runs on storage.bridge
    from sqlalchemy.ext.asyncio import AsyncConnection

#: Identifier values carried per recipient and table, at most (a cookie or two, not a dump).
MAX_VALUES = 20


@dataclass(frozen=True)
class Holding:
    """One recipient the subject's rows were shared with, and what it holds of them.

    `identifiers` are (column, value) pairs of the columns the data map says it holds.
    """

    key: str
    name: str
    channel: str  # email | webhook | manual
    contact: str | None
    language: str
    secret: str | None
    tables: tuple[str, ...]
    categories: tuple[str, ...]
    identifiers: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON form (kept on the case, so a re-run after an erasure still knows it)."""
        return {
            "key": self.key,
            "name": self.name,
            "channel": self.channel,
            "contact": self.contact,
            "language": self.language,
            "secret": self.secret,
            "tables": list(self.tables),
            "categories": list(self.categories),
            "identifiers": [list(p) for p in self.identifiers],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Holding:
        """Read `to_json()` back."""
        return cls(
            key=str(raw["key"]),
            name=str(raw["name"]),
            channel=str(raw["channel"]),
            contact=raw.get("contact"),
            language=str(raw.get("language") or "en"),
            secret=raw.get("secret"),
            tables=tuple(raw.get("tables") or ()),
            categories=tuple(raw.get("categories") or ()),
            identifiers=tuple((str(c), str(v)) for c, v in raw.get("identifiers") or ()),
        )


@dataclass(frozen=True)
class ControllerHolding:
    """Rows we hold as a processor for one controller (a reseller), found by the row's column.

    `contact` is None when the data map has no address for that controller (staff forward it).
    """

    name: str
    contact: str | None
    language: str
    table: str
    identifiers: tuple[tuple[str, str], ...]


def _merge(out: dict[str, Holding], new: Holding) -> None:
    old = out.get(new.key)
    if old is None:
        out[new.key] = new
        return
    out[new.key] = Holding(
        key=old.key,
        name=old.name,
        channel=old.channel,
        contact=old.contact,
        language=old.language,
        secret=old.secret,
        tables=(*old.tables, *new.tables),
        categories=tuple(dict.fromkeys([*old.categories, *new.categories])),
        identifiers=tuple(dict.fromkeys([*old.identifiers, *new.identifiers])),
    )


async def holdings(
    conn: AsyncConnection,
    datamap: DataMap,
    tables: Mapping[str, Table],
    selectors: Mapping[str, Selector],
    only: Collection[str] | None = None,
) -> list[Holding]:
    """The recipients holding rows of this subject, one per recipient key, in map order.

    Args:
        only: consider these tables only (e.g. those an erasure deleted or anonymized).
    """
    out: dict[str, Holding] = {}
    for name, spec in datamap.tables.items():
        sel = selectors.get(name)
        if not spec.recipients or sel is None or not sel.values or (only and name not in only):
            continue
        table = tables[name]
        categories = tuple(dict.fromkeys(spec.column(c).category for c in spec.columns))
        for recipient in spec.recipients:
            cols = recipient.identifiers or [sel.column]
            stmt = select(*[table.c[c] for c in cols]).where(table.c[sel.column].in_(sel.values))
            for col, value in recipient.where.items():
                stmt = stmt.where(table.c[col] == value)
            rows = (await conn.execute(stmt.distinct().limit(MAX_VALUES))).all()
            if not rows:
                continue
            pairs = [
                (c, str(v))
                for row in rows
                for c, v in zip(cols, row, strict=True)
                if v is not None and recipient.identifiers
            ]
            _merge(
                out,
                Holding(
                    key=recipient.ident,
                    name=recipient.name,
                    channel=recipient.via,
                    contact=recipient.contact,
                    language=recipient.language,
                    secret=recipient.secret,
                    tables=(name,),
                    categories=categories,
                    identifiers=tuple(dict.fromkeys(pairs)),
                ),
            )
    return list(out.values())


async def controllers(
    conn: AsyncConnection,
    datamap: DataMap,
    tables: Mapping[str, Table],
    selectors: Mapping[str, Selector],
) -> list[ControllerHolding]:
    """The controllers (resellers) of the subject's processor rows, by the row's own column."""
    out: list[ControllerHolding] = []
    for name, spec in datamap.tables.items():
        pc, sel = spec.processor_contacts, selectors.get(name)
        if pc is None or sel is None or not sel.values:
            continue
        table = tables[name]
        cols = [pc.column, *pc.identifiers]
        stmt = select(*[table.c[c] for c in cols]).where(table.c[sel.column].in_(sel.values))
        found: dict[str, list[tuple[str, str]]] = {}
        for row in (await conn.execute(stmt.limit(MAX_VALUES * 5))).all():
            if row[0] is None:
                continue
            pairs = found.setdefault(str(row[0]), [])
            pairs.extend((c, str(v)) for c, v in zip(pc.identifiers, row[1:], strict=True) if v)
        for controller, pairs in found.items():
            contact = pc.contacts.get(controller)
            out.append(
                ControllerHolding(
                    name=controller,
                    contact=contact.contact if contact else None,
                    language=contact.language if contact else "en",
                    table=name,
                    identifiers=tuple(dict.fromkeys(pairs))[:MAX_VALUES],
                )
            )
    return out


__all__ = ["ControllerHolding", "Holding", "controllers", "holdings"]
