"""Which rows of each mapped table belong to a subject: identity columns, then foreign keys.

Every table ends up with one `Selector` (`column IN values`, ids only), resolved parents first,
so that plans carry ids rather than personal data and re-runs select exactly the same rows.
With `email_match: casefold` an e-mail identity column is compared lower-cased on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, String, Table, func, literal, or_, select

from storage.customer.plans import Selector, Subject
from storage.datamap import DataMap

if TYPE_CHECKING:  # the async API only as a type: `dsr store` runs on storage.bridge
    from sqlalchemy.ext.asyncio import AsyncConnection

EMAIL_KEY = "email"


def variants(key: str, value: str) -> tuple[str, ...]:
    """The stored forms to try for an identity value (e-mail also lower-cased)."""
    value = value.strip()
    if key == EMAIL_KEY:
        return tuple(dict.fromkeys((value, value.lower())))
    return (value,)


def identity_in(
    datamap: DataMap, column: ColumnElement[Any], key: str, values: Sequence[str]
) -> ColumnElement[bool]:
    """`column IN values`, or `lower(column) IN (lower(values))` for an e-mail identity key
    when the data map says `email_match: casefold` (the database lower-cases both sides, so
    they agree however it folds non-ASCII letters; an index on `lower(column)` serves it)."""
    if key == EMAIL_KEY and datamap.casefold_email:
        return func.lower(column).in_([func.lower(literal(v, String())) for v in values])
    return column.in_(values)


def keys_for(datamap: DataMap, identity: str) -> list[str]:
    """Identity keys an input can be: `email` when it holds '@', the others otherwise."""
    is_email = "@" in identity
    return [k for k in datamap.identity_keys if (k == EMAIL_KEY) == is_email]


def subject_for(datamap: DataMap, identity: str) -> Subject:
    """A subject known only by what was asked (no account row)."""
    return Subject(keys=tuple((k, variants(k, identity)) for k in keys_for(datamap, identity)))


def subject_from_row(datamap: DataMap, account: str, row: dict[str, Any], pk: str) -> Subject:
    """A subject whose identity values are taken from its account row."""
    keys = []
    for key, col in (datamap.tables[account].find.identity or {}).items():
        value = row.get(col)
        if value is not None:
            keys.append((key, variants(key, str(value))))
    return Subject(keys=tuple(keys), account_pk=row[pk])


def _flatten(rows: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(r[0] for r in rows))


async def resolve(
    conn: AsyncConnection,
    datamap: DataMap,
    tables: dict[str, Table],
    pks: dict[str, str],
    subject: Subject,
) -> dict[str, Selector]:
    """One selector per mapped table, parents first.

    Args:
        conn: a connection to the customer store.
        datamap: the checked data map.
        tables: reflected tables by name.
        pks: primary-key column by table name.
        subject: whom to select.
    """
    selectors: dict[str, Selector] = {}
    account = datamap.account_table
    for name in datamap.parents_first():
        spec, table, pk = datamap.tables[name], tables[name], pks[name]
        if spec.find.identity is not None:
            if name == account:
                values = () if subject.account_pk is None else (subject.account_pk,)
                selectors[name] = Selector(pk, values)
                continue
            conds = [
                identity_in(datamap, table.c[col], key, subject.values(key))
                for key, col in spec.find.identity.items()
                if subject.values(key)
            ]
            found: tuple[Any, ...] = ()
            if conds:
                found = _flatten(await conn.execute(select(table.c[pk]).where(or_(*conds))))
            selectors[name] = Selector(pk, found)
            continue
        parent = spec.find.via
        assert parent is not None and spec.find.column is not None
        ref = spec.find.references or pks[parent]
        psel = selectors[parent]
        if ref == psel.column or not psel.values:
            values = psel.values
        else:
            ptable = tables[parent]
            stmt = select(ptable.c[ref]).where(ptable.c[psel.column].in_(psel.values))
            values = _flatten(await conn.execute(stmt))
        selectors[name] = Selector(spec.find.column, values)
    return selectors
