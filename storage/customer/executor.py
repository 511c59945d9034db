"""The executor: find, see (export), change, delete and unsubscribe, generic over the data map.

It knows no schema: tables and columns come from the data map and SQLAlchemy reflection of the
customer store, so it runs against a company's own database. Desk memory (receipts, retention
holds) goes to an injected `Ledger` in the case store. Logs carry counts and case refs only.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import ColumnElement, MetaData, Table, delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SAWarning

from storage.customer import (
    access,
    erasure,
    plans,
    portable,
    recipients,
    rights,
    schema_cache,
    selection,
)
from storage.customer.errors import AmbiguousSubject, InvalidChange, SubjectNotFound
from storage.customer.plans import (
    AccessPackage,
    ChangePlan,
    ErasurePlan,
    FieldChange,
    OperationResult,
    Selector,
    Subject,
    SubjectMatch,
    TableCount,
)
from storage.customer.schema_cache import SchemaCache
from storage.customer.validate import normalise
from storage.datamap import DataMap, period_cutoff
from storage.errors import ConcurrentUpdateError
from storage.ledger import Hold

if TYPE_CHECKING:  # the async API only as a type: `dsr store` runs on storage.bridge
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)
MAX_ACCOUNTS = 20
PROBE_ROWS = 2000


class Receipt(Protocol):
    """What the executor reads back from a ledger receipt."""

    @property
    def status(self) -> str: ...

    @property
    def plan(self) -> dict[str, Any]: ...

    @property
    def result(self) -> dict[str, Any]: ...


class HeldRows(Protocol):
    """What the sweep reads of an open retention hold."""

    @property
    def id(self) -> int | None: ...

    @property
    def table_name(self) -> str: ...

    @property
    def link_column(self) -> str: ...

    @property
    def link_values(self) -> list[Any]: ...

    @property
    def starts_column(self) -> str: ...

    @property
    def period(self) -> str: ...


class Ledger(Protocol):
    """Desk memory in the case store (`storage.retention.RetentionLedger` through the ORM,
    `storage.ledger.CoreLedger` without it)."""

    async def receipt(self, case_ref: str, operation: str) -> Receipt | None: ...

    async def begin(
        self,
        case_ref: str | None,
        operation: str,
        plan: dict[str, Any],
        holds: Sequence[Hold] = (),
    ) -> Receipt | None: ...

    async def finish(
        self, case_ref: str | None, operation: str, result: dict[str, Any]
    ) -> None: ...

    async def open_holds(self) -> Sequence[HeldRows]: ...

    async def close(self, hold_id: int) -> None: ...


def _restricted(marks: Sequence[rights.RestrictionMark], table: str) -> list[dict[str, Any]]:
    """One table's restriction marks for the access report: purpose, since, rows (pure)."""
    rows: dict[tuple[str, str], int] = {}
    for m in marks:
        if m.table == table:
            key = (m.purpose, m.since.date().isoformat())
            rows[key] = rows.get(key, 0) + 1
    return [{"purpose": p, "since": s, "rows": n} for (p, s), n in sorted(rows.items())]


def _reflect(conn: Connection, metadata: MetaData, names: list[str]) -> None:
    """Reflect tables; an expression index such as `lower(email)` (which `email_match:
    casefold` wants) is not needed here, so SQLite's warning that it skips one is dropped."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", SAWarning
        )
        metadata.reflect(conn, only=names)


def _tables(conn: Connection, names: list[str], cache: SchemaCache | None) -> MetaData:
    """The mapped tables that exist, from the cache when their fingerprint is unchanged."""
    mark = schema_cache.fingerprint(conn, names) if cache else None
    url = conn.engine.url.render_as_string(hide_password=True)
    if cache and mark:
        kept = cache.load(url, names, mark)
        if kept is not None:
            return kept
    metadata = MetaData()
    existing = set(conn.dialect.get_table_names(conn))
    _reflect(conn, metadata, [n for n in names if n in existing])
    if cache and mark:
        cache.save(url, names, mark, metadata)
    return metadata


class Executor:
    """Carries out data-subject requests on one customer store. Build with `await open(...)`."""

    def __init__(
        self,
        engine: AsyncEngine,
        datamap: DataMap,
        tables: dict[str, Table],
        ledger: Ledger | None = None,
    ) -> None:
        self.engine, self.datamap, self.tables, self.ledger = engine, datamap, tables, ledger
        metadata = next(iter(tables.values())).metadata
        self.pks = {name: datamap.primary_key_of(name, metadata) for name in datamap.tables}

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        datamap: DataMap,
        ledger: Ledger | None = None,
        *,
        cache: SchemaCache | None = None,
    ) -> Executor:
        """Reflect the mapped tables (or reuse the reflection `cache` kept while they have not
        changed) and check the data map against them.

        Raises:
            DataMapError: a mapped table or column does not exist or does not fit.
        """
        names = list(datamap.tables)
        if cache:
            access.keep_compiled_templates(cache.directory / "templates")
        with_rights = [*names, *(t for t in rights.TABLES if t not in names)]
        async with engine.connect() as conn:
            metadata = await conn.run_sync(lambda c: _tables(c, with_rights, cache))
        datamap.check_against(metadata)
        if not all(t in metadata.tables for t in rights.TABLES):
            await rights.ensure_tables(engine)  # the suppression list and restriction marks
        return cls(engine, datamap, {n: metadata.tables[n] for n in names}, ledger)

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that need no snapshot: on PostgreSQL without BEGIN/ROLLBACK
        (two round trips fewer). SQLite keeps its transaction (its begin hook needs the end)."""
        async with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    # --- finding -------------------------------------------------------------------------

    async def _accounts(self, conn: AsyncConnection, identity: str) -> list[dict[str, Any]]:
        account = self.datamap.account_table
        if account is None:
            return []
        table, spec = self.tables[account], self.datamap.tables[account]
        keys = selection.keys_for(self.datamap, identity)
        idmap = spec.find.identity or {}
        conds = [
            selection.identity_in(
                self.datamap, table.c[col], key, selection.variants(key, identity)
            )
            for key, col in idmap.items()
            if key in keys
        ]
        if not conds:
            return []
        cols = {self.pks[account], *idmap.values()}
        stmt = select(*[table.c[c] for c in cols]).where(or_(*conds)).limit(MAX_ACCOUNTS)
        return [dict(r._mapping) for r in await conn.execute(stmt)]

    def _label(self, row: dict[str, Any]) -> str:
        account = self.datamap.account_table
        assert account is not None
        idmap = self.datamap.tables[account].find.identity or {}
        handle = idmap.get("handle")
        if handle and row.get(handle):
            return str(row[handle])
        return f"{account} #{row[self.pks[account]]}"

    async def _counts(
        self, conn: AsyncConnection, selectors: Mapping[str, Selector]
    ) -> tuple[TableCount, ...]:
        out = []
        for name, spec in self.datamap.tables.items():
            sel, table = selectors[name], self.tables[name]
            if not sel.values:
                rows = 0
            elif sel.column == self.pks[name]:
                rows = len(sel.values)
            else:
                stmt = select(func.count()).where(table.c[sel.column].in_(sel.values))
                rows = int((await conn.execute(stmt)).scalar_one())
            out.append(TableCount(name, spec.title, rows, spec.processor_for))
        return tuple(out)

    async def find(self, identity: str, *, counts: bool = True) -> SubjectMatch:
        """Find the subject by any identity key of the data map.

        Args:
            identity: an e-mail address, username or customer handle (never logged).
            counts: also count the rows held per table.

        Returns:
            A match; `accounts` lists every matching account (several: `ambiguous`).
        """
        async with self._reading() as conn:
            rows = await self._accounts(conn, identity)
            labels = tuple(self._label(r) for r in rows)
            if len(rows) > 1:
                return SubjectMatch(None, labels)
            account = self.datamap.account_table
            if rows:
                assert account is not None
                subject = selection.subject_from_row(
                    self.datamap, account, rows[0], self.pks[account]
                )
            else:
                subject = selection.subject_for(self.datamap, identity)
            if not counts and rows:
                return SubjectMatch(subject, labels)
            selectors = await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)
            tables = await self._counts(conn, selectors)
        if not rows and not any(t.rows for t in tables):
            return SubjectMatch(None, ())
        return SubjectMatch(subject, labels, tables)

    async def subject(self, identity: str) -> Subject:
        """Exactly one subject for the identity.

        Raises:
            SubjectNotFound: nothing holds the identity.
            AmbiguousSubject: several accounts hold it.
        """
        match = await self.find(identity, counts=False)
        if match.ambiguous:
            raise AmbiguousSubject(len(match.accounts), match.accounts)
        if match.subject is None:
            raise SubjectNotFound(
                "no data is held under that identity; check the spelling, or try the "
                "customer's e-mail address, username or customer number"
            )
        return match.subject

    async def selectors(self, subject: Subject) -> dict[str, Selector]:
        """The subject's rows, one selector per mapped table."""
        async with self._reading() as conn:
            return await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)

    # --- see -----------------------------------------------------------------------------

    async def export(
        self,
        subject: Subject,
        out_dir: Path,
        lang: str | None = None,
        desk: Sequence[access.DeskRequest] | None = None,
    ) -> AccessPackage:
        """Write `personal-data.json` and `personal-data.html` for the subject, streamed.

        Args:
            subject: from `subject()`/`find()`.
            out_dir: created if missing (0700, files 0600); existing package files are replaced.
            lang: the customer's language for the report's own words (English by default).
            desk: the privacy desk's own records of the person (their requests), a section of
                the package; None leaves it out (a staff export).
        """
        access.private_dir(out_dir)  # a few metadata calls
        async with self.engine.connect() as conn:
            selectors = await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)
            marks = await rights.restrictions_of(conn, selectors)
            with access.PackageWriter(out_dir, self.datamap, lang, desk) as writer:
                for name, spec in self.datamap.tables.items():
                    sel, table = selectors[name], self.tables[name]
                    cols = spec.exported()
                    writer.begin_table(name, spec, _restricted(marks, name))
                    if sel.values:
                        stmt = (
                            select(*[table.c[c] for c in cols])
                            .where(table.c[sel.column].in_(sel.values))
                            .order_by(table.c[self.pks[name]])
                        )
                        # Most tables hold a few rows: one plain round trip. Only a table that
                        # overflows the probe is streamed (server-side cursor, bounded memory).
                        probe = (await conn.execute(stmt.limit(PROBE_ROWS + 1))).all()
                        if len(probe) <= PROBE_ROWS:
                            writer.rows(probe)
                        else:
                            del probe
                            result = await conn.stream(stmt.execution_options(yield_per=5000))
                            async for part in result.partitions():
                                writer.rows(part)
                    writer.end_table()
                package = writer.finish()
        log.info("access package written: tables=%d rows=%d", len(package.tables), package.rows)
        return package

    async def export_portable(self, subject: Subject, out_dir: Path) -> portable.PortableExport:
        """Write the Art. 20 export: what the subject provided, as JSON and CSV files."""
        rows: dict[str, list[Any]] = {}
        async with self._reading() as conn:
            selectors = await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)
            for name, spec in self.datamap.tables.items():
                cols, sel, table = spec.provided_columns(), selectors[name], self.tables[name]
                if not cols or not sel.values:
                    continue
                stmt = (
                    select(*[table.c[c] for c in cols])
                    .where(table.c[sel.column].in_(sel.values))
                    .order_by(table.c[self.pks[name]])
                )
                rows[name] = [tuple(r) for r in (await conn.execute(stmt)).all()]
        result = portable.write_portable(out_dir, self.datamap, rows)
        log.info("portable export written: tables=%d", len(result.rows))
        return result

    # --- who else holds it -----------------------------------------------------------------

    async def recipient_holdings(
        self, subject: Subject, only: Sequence[str] | None = None
    ) -> list[recipients.Holding]:
        """The data map's recipients holding rows of this subject (of `only` these tables)."""
        async with self._reading() as conn:
            selectors = await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)
            return await recipients.holdings(conn, self.datamap, self.tables, selectors, only)

    async def processor_controllers(self, subject: Subject) -> list[recipients.ControllerHolding]:
        """The controllers (resellers) we hold this subject's processor rows for."""
        async with self._reading() as conn:
            selectors = await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)
            return await recipients.controllers(conn, self.datamap, self.tables, selectors)

    # --- delete --------------------------------------------------------------------------

    async def preview_erasure(self, subject: Subject, now: datetime | None = None) -> ErasurePlan:
        """What erasure would delete, anonymize and retain (with legal basis and until-date)."""
        now = now or datetime.now(UTC)
        out = []
        async with self._reading() as conn:
            selectors = await selection.resolve(conn, self.datamap, self.tables, self.pks, subject)
            for name in self.datamap.parents_first():
                spec, table = self.datamap.tables[name], self.tables[name]
                out.append(await erasure.plan_table(conn, name, spec, table, selectors[name], now))
        return ErasurePlan(tables=tuple(out), now=now)

    async def apply_erasure(
        self, plan: ErasurePlan, case_ref: str | None = None
    ) -> OperationResult:
        """Carry out the previewed erasure in one transaction; schedule retained rows.

        Idempotent per case: a finished case returns its recorded result; a case that crashed
        mid-way is completed from the plan recorded when it started.
        """
        holds = [
            erasure.hold_for(self.datamap.tables[t.table], t, case_ref)
            for t in plan.tables
            if t.action == "retain" and t.retained
        ]
        receipt = await self._begin(case_ref, "erase", plans.erasure_plan_to_json(plan), holds)
        if receipt is not None and receipt.status == "done":
            return OperationResult("erase", receipt.result.get("counts", {}), replayed=True)
        if receipt is not None:  # started before a crash: finish exactly what was recorded
            plan = plans.erasure_plan_from_json(receipt.plan)
        async with self.engine.begin() as conn:
            for item in reversed(plan.tables):
                spec, table = self.datamap.tables[item.table], self.tables[item.table]
                await erasure.erase_table(conn, spec, table, item, plan.now)
        counts = plan.summary()
        await self._finish(case_ref, "erase", counts)
        log.info("erasure applied: case=%s tables=%d", case_ref, len(counts))
        return OperationResult("erase", counts)

    async def recorded_erasure(self, case_ref: str) -> ErasurePlan | None:
        """The erasure plan recorded for a case, if its erasure was started (maybe finished).

        After a crash the subject may no longer be findable (its identity was anonymized);
        pass this plan to `apply_erasure` to finish or replay, and use it for the reply.
        """
        if self.ledger is None:
            return None
        receipt = await self.ledger.receipt(case_ref, "erase")
        return None if receipt is None else plans.erasure_plan_from_json(receipt.plan)

    async def _begin(
        self,
        case_ref: str | None,
        operation: str,
        plan: dict[str, Any],
        holds: Sequence[Hold] = (),
    ) -> Receipt | None:
        if self.ledger is None:
            return None
        return await self.ledger.begin(case_ref, operation, plan, holds)

    async def _finish(
        self, case_ref: str | None, operation: str, counts: dict[str, dict[str, int]]
    ) -> None:
        if self.ledger is not None and case_ref is not None:
            await self.ledger.finish(case_ref, operation, {"counts": counts})

    # --- change --------------------------------------------------------------------------

    def editable(self) -> dict[str, tuple[str, str]]:
        """Fields staff may correct: column -> (rectify kind, label)."""
        account = self.datamap.account_table
        if account is None:
            return {}
        spec = self.datamap.tables[account]
        out: dict[str, tuple[str, str]] = {}
        for col in spec.columns:
            column = spec.column(col)
            if column.rectify:
                out[col] = (column.rectify, column.label or col.replace("_", " ").capitalize())
        return out

    async def preview_change(self, subject: Subject, changes: Mapping[str, str]) -> ChangePlan:
        """Validate and normalise a correction of the subject's account.

        Raises:
            InvalidChange: unknown field, invalid value, or no account to correct.
        """
        account, editable = self.datamap.account_table, self.editable()
        if not changes:
            raise InvalidChange("-", "no field given; use FIELD=VALUE")
        for field in changes:
            if field not in editable:
                raise InvalidChange(
                    field,
                    f"not a field that can be corrected; fields: {', '.join(editable) or 'none'}",
                )
        if account is None or subject.account_pk is None:
            raise InvalidChange(next(iter(changes)), "the subject has no account to correct")
        table, pk = self.tables[account], self.pks[account]
        async with self._reading() as conn:
            stmt = select(*[table.c[c] for c in editable]).where(table.c[pk] == subject.account_pk)
            row = (await conn.execute(stmt)).one()._mapping
        country_col = next((c for c, (k, _) in editable.items() if k == "country"), None)
        country = row[country_col] if country_col else None
        if country_col and country_col in changes:
            country = normalise("country", country_col, changes[country_col], None)
        out = []
        for field, value in changes.items():
            kind, label = editable[field]
            new = normalise(kind, field, value, country)
            if new != row[field]:
                out.append(FieldChange(account, field, label, row[field], new))
        return ChangePlan(account, pk, subject.account_pk, tuple(out))

    async def apply_change(self, plan: ChangePlan, case_ref: str | None = None) -> OperationResult:
        """Apply a previewed correction in one transaction (idempotent per case).

        Raises:
            ConcurrentUpdateError: a field changed since the preview.
            InvalidChange: the new value collides with another row (e.g. e-mail in use).
        """
        fields = sorted(c.column for c in plan.changes)
        receipt = await self._begin(case_ref, "change", {"fields": fields})
        if receipt is not None and receipt.status == "done":
            return OperationResult("change", receipt.result.get("counts", {}), replayed=True)
        table = self.tables[plan.table]
        to_set: dict[str, Any] = {}
        try:
            async with self.engine.begin() as conn:
                cols = [table.c[c.column] for c in plan.changes]
                stmt = select(*cols).where(table.c[plan.pk_column] == plan.pk).with_for_update()
                current = (await conn.execute(stmt)).one()._mapping if cols else {}
                for c in plan.changes:
                    if current[c.column] == c.new:
                        continue
                    if current[c.column] != c.old:
                        raise ConcurrentUpdateError(
                            f"field {c.column!r} of {plan.table} changed since the preview; "
                            "preview the change again"
                        )
                    to_set[c.column] = c.new
                if to_set:
                    await conn.execute(
                        update(table).where(table.c[plan.pk_column] == plan.pk).values(**to_set)
                    )
        except IntegrityError:
            field = next(iter(to_set), "-")
            raise InvalidChange(field, "another record already uses this value") from None
        counts = {plan.table: {"changed": len(to_set)}}
        await self._finish(case_ref, "change", counts)
        log.info("change applied: case=%s fields=%d", case_ref, len(to_set))
        return OperationResult("change", counts)

    # --- unsubscribe and sweep -----------------------------------------------------------

    async def unsubscribe(self, address: str, case_ref: str | None = None) -> OperationResult:
        """Remove newsletter subscriptions and marketing consent for an address (idempotent)."""
        receipt = await self._begin(case_ref, "unsubscribe", {})
        if receipt is not None and receipt.status == "done":
            return OperationResult("unsubscribe", receipt.result.get("counts", {}), True)
        key = selection.EMAIL_KEY
        forms = selection.variants(key, address)
        counts: dict[str, dict[str, int]] = {}
        unsub = self.datamap.unsubscribe

        def where(name: str) -> ColumnElement[bool]:
            col = (self.datamap.tables[name].find.identity or {})[key]
            return selection.identity_in(self.datamap, self.tables[name].c[col], key, forms)

        async with self.engine.begin() as conn:
            for name in unsub.delete:
                res = await conn.execute(delete(self.tables[name]).where(where(name)))
                counts[name] = {"deleted": int(res.rowcount or 0)}
            for name, values in unsub.set.items():
                table = self.tables[name]
                res = await conn.execute(update(table).where(where(name)).values(**values))
                counts[name] = {"updated": int(res.rowcount or 0)}
        await self._finish(case_ref, "unsubscribe", counts)
        log.info("unsubscribe applied: case=%s tables=%d", case_ref, len(counts))
        return OperationResult("unsubscribe", counts)

    async def sweep(self, now: datetime | None = None) -> OperationResult:
        """Delete retained rows whose retention has run; close holds with nothing left."""
        if self.ledger is None:
            return OperationResult("sweep")
        now = now or datetime.now(UTC)
        counts: dict[str, dict[str, int]] = {}
        for hold in await self.ledger.open_holds():
            table = self.tables.get(hold.table_name)
            if table is None or not hold.link_values:
                log.warning("sweep: hold %s names unmapped table; skipped", hold.id)
                continue
            where = table.c[hold.link_column].in_(hold.link_values)
            starts = table.c[hold.starts_column]
            cutoff = erasure.bound(starts, period_cutoff(hold.period, now))
            async with self.engine.begin() as conn:
                res = await conn.execute(delete(table).where(where, starts < cutoff))
                left = (await conn.execute(select(func.count()).where(where))).scalar_one()
            entry = counts.setdefault(hold.table_name, {"deleted": 0, "holds_closed": 0})
            entry["deleted"] += int(res.rowcount or 0)
            if not left and hold.id is not None:
                await self.ledger.close(hold.id)
                entry["holds_closed"] += 1
        log.info("sweep done: tables=%d", len(counts))
        return OperationResult("sweep", counts)
