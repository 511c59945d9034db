"""`dsr store …`: staff commands over the customer store (find, export, erase, change, sweep)
plus seed/import/init for the reference store.

Every staff command checks the data map and the case store first, is audited with `--actor`,
prints at most what the operator typed plus counts, and changes nothing when it fails.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from bot.build import open_store
from bot.cli.exits import exit_code_for
from bot.cli.progress import Done, progress_bar
from bot.errors import DsrError
from bot.settings import Settings
from storage import audit_chain
from storage.bridge import BridgeEngine, run_now
from storage.customer import InvalidChange, Subject, SubjectNotFound
from storage.db import create_engine
from storage.errors import StorageError
from storage.pseudonym import pseudonym

store_app = typer.Typer(
    help="The customer store: find, export, erase, change; seed and import.",
    no_args_is_help=True,
)
T = TypeVar("T")
Actor = Annotated[
    str | None, typer.Option(help="Who acts (audited); default: the OS user.", show_default=False)
]
CaseRef = Annotated[
    str | None, typer.Option("--case", help="Case reference (DSR-n) this is done for.")
]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if not isinstance(settings, Settings):
        raise typer.BadParameter("settings were not loaded")
    return settings


def _run(coro: Coroutine[Any, Any, T], *, bridged: bool = False) -> T:
    """Run one command; our errors become one clear line on stderr and the documented exit code
    (2 for a usage problem such as an unknown customer, 1 when the work failed). A `bridged`
    command (one that works through `open_store`) never waits, so it runs without a loop."""
    import asyncio  # only the commands that really wait (init, seed, import) need a loop

    try:
        return run_now(coro) if bridged else asyncio.run(coro)
    except (StorageError, DsrError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exit_code_for(exc)) from None


def _actor(actor: str | None) -> str:
    return f"cli:{actor or getpass.getuser()}"


async def _audit(
    cases: BridgeEngine, action: str, actor: str, case_ref: str | None, details: dict[str, Any]
) -> None:
    """Append the command's audit event in its own transaction (the chain's usual append)."""
    async with cases.begin() as conn:
        await audit_chain.append(
            conn, action=action, actor=actor, case_ref=case_ref, details=details
        )


def _subject_pseudonym(settings: Settings, subject: Subject | None, identity: str) -> str:
    emails = subject.values("email") if subject else ()
    return pseudonym(settings.secret_key_bytes(), emails[-1] if emails else identity)


def _spelled_on_file(subject: Subject | None, identity: str) -> str | None:
    """The account's e-mail as stored when it differs from what was typed only in case
    (`email_match: casefold`): shows the stored spelling without revealing anything new."""
    if subject is None or subject.account_pk is None:
        return None
    stored, typed = subject.values("email")[:1], identity.strip()
    if stored and stored[0] != typed and stored[0].lower() == typed.lower():
        return stored[0]
    return None


def _echo_lines(lines: list[str], out: Callable[[str], None] = typer.echo) -> None:
    for line in lines:
        out(f"  {line}")


@store_app.command("init")
def init_cmd(ctx: typer.Context) -> None:
    """Create the reference customer-store tables in DSR_CUSTOMER_DATABASE_URL."""

    from storage.customer.schema import create_schema  # the reference tables: only here

    async def go() -> None:
        engine = create_engine(_settings(ctx).customer_database_url)
        try:
            await create_schema(engine)
        finally:
            await engine.dispose()

    _run(go())
    typer.echo("customer store schema is in place")


@store_app.command("seed")
def seed_cmd(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=1, help="How many customers to add.")] = 1000,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Add realistic synthetic customers to the reference store."""

    from storage.customer.seed import seed  # Faker: only this command needs it

    async def go() -> range:
        engine = create_engine(_settings(ctx).customer_database_url)
        try:
            with progress_bar("seeding customers", customers) as done:
                return await seed(engine, customers, seed_value=seed_value, progress=done)
        finally:
            await engine.dispose()

    ids = _run(go())
    typer.echo(f"seeded {len(ids)} customers (ids {ids.start}..{ids.stop - 1})")


@store_app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines file.")],
) -> None:
    """Import customers from JSON lines; all lines are checked first, nothing half-imported."""
    from storage.customer.importer import import_customers  # the reference tables: only here

    async def go() -> list[Any]:
        settings = _settings(ctx)
        engine = create_engine(settings.customer_database_url)
        # The suppression list is checked whenever the key exists (without it, an import into a
        # store that has a list is refused by the importer, naming DSR_SECRET_KEY).
        key = settings.suppression_key_bytes() if settings.secret_key is not None else None
        try:
            with (
                file.open(encoding="utf-8") as handle,
                progress_bar("reading customers", file.stat().st_size) as done,
            ):
                return await import_customers(engine, _reading(handle, done), suppression_key=key)
        finally:
            await engine.dispose()

    for created in _run(go()):
        typer.echo(f"{created.id}\t{created.handle}")


def _reading(lines: Iterable[str], done: Done) -> Iterator[str]:
    """The file's lines, reporting the characters read so far to a progress bar."""
    read = 0
    for line in lines:
        read += len(line)
        done(read)
        yield line


@store_app.command("find")
def find_cmd(ctx: typer.Context, identity: str, actor: Actor = None) -> None:
    """What is held about IDENTITY (e-mail, username or customer number), by table."""
    settings = _settings(ctx)

    async def go() -> None:
        async with open_store(settings) as (executor, cases):
            match = await executor.find(identity)
            if not match.found:
                _not_found()
            details: dict[str, Any] = {
                "subject": _subject_pseudonym(settings, match.subject, identity),
                "accounts": len(match.accounts),
            }
            await _audit(cases, "store_find", _actor(actor), None, details)
        if match.ambiguous:
            typer.echo(f"{len(match.accounts)} accounts hold this identity:")
            _echo_lines(list(match.accounts))
            typer.echo("repeat with one account's customer number or username")
            return
        if match.accounts:
            typer.echo(f"account: {match.accounts[0]}")
        spelled = _spelled_on_file(match.subject, identity)
        if spelled:
            typer.echo(f"e-mail on file spelled {spelled} (matched ignoring case)")
        for t in match.tables:
            note = f" (held for {t.processor_for})" if t.processor_for and t.rows else ""
            typer.echo(f"  {t.table}: {t.rows} row(s){note}")

    _run(go(), bridged=True)


def _not_found() -> NoReturn:
    """The uniform not-found error (same wording whatever the reason)."""
    raise SubjectNotFound(
        "no data is held under that identity; check the spelling, or try the customer's "
        "e-mail address, username or customer number"
    )


@store_app.command("export")
def export_cmd(
    ctx: typer.Context,
    identity: str,
    out: Annotated[Path, typer.Option(help="Directory for the access package.")],
    actor: Actor = None,
    case: CaseRef = None,
    lang: Annotated[
        str | None,
        typer.Option(help="Language of the report: en de nl sv fr es it pt ro pl ru cs hr el."),
    ] = None,
) -> None:
    """Write the access package (personal-data.json and .html) for IDENTITY into --out."""
    settings = _settings(ctx)

    async def go() -> None:
        async with open_store(settings) as (executor, cases):
            subject = await executor.subject(identity)
            package = await executor.export(subject, out, lang)
            counts = {t.table: t.rows for t in package.tables}
            details = {"subject": _subject_pseudonym(settings, subject, identity), "rows": counts}
            await _audit(cases, "store_export", _actor(actor), case, details)
        typer.echo(f"wrote {package.json_path} and {package.html_path} ({package.rows} rows)")

    _run(go(), bridged=True)


@store_app.command("erase")
def erase_cmd(
    ctx: typer.Context,
    identity: str,
    apply: Annotated[
        bool, typer.Option("--apply", help="Carry it out (default: preview).")
    ] = False,
    actor: Actor = None,
    case: CaseRef = None,
) -> None:
    """Preview (default) or --apply the erasure of IDENTITY's data; retained data is scheduled."""
    settings = _settings(ctx)

    async def go() -> None:
        async with open_store(settings) as (executor, cases):
            subject = await executor.subject(identity)
            plan = await executor.preview_erasure(subject)
            who = _subject_pseudonym(settings, subject, identity)
            if not apply:
                typer.echo("erasure preview (nothing changed yet):")
                _echo_lines(plan.lines())
                await _audit(
                    cases,
                    "store_erase_previewed",
                    _actor(actor),
                    case,
                    {"subject": who, "plan": plan.summary()},
                )
                typer.echo("run again with --apply to carry it out")
                return
            result = await executor.apply_erasure(plan, case)
            await _audit(
                cases,
                "store_erased",
                _actor(actor),
                case,
                {"subject": who, "counts": result.counts, "replayed": result.replayed},
            )
        # Only once it is done and audited: a failure above must never read as success.
        typer.echo("erasure applied:")
        _echo_lines(plan.lines())

    _run(go(), bridged=True)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """FIELD=VALUE arguments as a dict.

    Raises:
        InvalidChange: an argument without '=' or a field given twice.
    """
    changes: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        field = field.strip()
        if not sep or not field:
            raise InvalidChange(field or "-", "write each change as FIELD=VALUE")
        if field in changes:
            raise InvalidChange(field, "given twice")
        changes[field] = value
    return changes


@store_app.command("change")
def change_cmd(
    ctx: typer.Context,
    identity: str,
    assignments: Annotated[list[str], typer.Argument(help="FIELD=VALUE …")],
    apply: Annotated[
        bool, typer.Option("--apply", help="Carry it out (default: preview).")
    ] = False,
    actor: Actor = None,
    case: CaseRef = None,
) -> None:
    """Preview (default) or --apply a validated correction of IDENTITY's account."""
    settings = _settings(ctx)

    async def go() -> None:
        changes = parse_assignments(assignments)
        async with open_store(settings) as (executor, cases):
            subject = await executor.subject(identity)
            plan = await executor.preview_change(subject, changes)
            who = _subject_pseudonym(settings, subject, identity)
            diff = plan.audit_diff(settings.secret_key_bytes())
            if not plan.changes:
                typer.echo("nothing to change: the values are already as given")
                raise typer.Exit(2)  # nothing to do
            if not apply:
                typer.echo("change preview (nothing changed yet):")
                _echo_lines(plan.lines())
                await _audit(
                    cases,
                    "store_change_previewed",
                    _actor(actor),
                    case,
                    {"subject": who, "diff": diff},
                )
                typer.echo("run again with --apply to carry it out")
                return
            result = await executor.apply_change(plan, case)
            await _audit(
                cases,
                "store_changed",
                _actor(actor),
                case,
                {"subject": who, "diff": diff, "replayed": result.replayed},
            )
        # Only once it is done and audited: a failure above must never read as success.
        typer.echo("change applied:")
        _echo_lines(plan.lines())

    _run(go(), bridged=True)


@store_app.command("unsubscribe")
def unsubscribe_cmd(
    ctx: typer.Context, address: str, actor: Actor = None, case: CaseRef = None
) -> None:
    """Remove newsletter subscriptions and marketing consent for ADDRESS (idempotent)."""
    settings = _settings(ctx)

    async def go() -> None:
        async with open_store(settings) as (executor, cases):
            result = await executor.unsubscribe(address, case)
            details = {
                "subject": pseudonym(settings.secret_key_bytes(), address),
                "counts": result.counts,
            }
            await _audit(cases, "store_unsubscribed", _actor(actor), case, details)
        typer.echo(
            "unsubscribed ("
            + ", ".join(f"{t}: {sum(c.values())}" for t, c in result.counts.items())
            + ")"
        )

    _run(go(), bridged=True)


@store_app.command("sweep")
def sweep_cmd(ctx: typer.Context, actor: Actor = None) -> None:
    """Erase retained rows whose legal retention period has run."""
    settings = _settings(ctx)

    async def go() -> None:
        async with open_store(settings) as (executor, cases):
            result = await executor.sweep()
            await _audit(cases, "store_swept", _actor(actor), None, {"counts": result.counts})
        deleted = sum(c["deleted"] for c in result.counts.values())
        typer.echo(f"swept: {deleted} row(s) deleted from {len(result.counts)} held table(s)")

    _run(go(), bridged=True)


def register(app: typer.Typer) -> None:
    """Add the `store` sub-app to the `dsr` command."""
    app.add_typer(store_app, name="store")


__all__ = ["parse_assignments", "register", "store_app"]
