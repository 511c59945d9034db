"""`dsr cases list|show|approve|reject|reclassify|verify|extend|dismiss|change|retry|purge`: case
work without Slack, on the same core functions (`bot.work.actions`) that the Slack buttons call.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated

import typer

from bot.build import open_desk
from bot.case import store
from bot.case.data import SubjectFacts, case_data
from bot.case.lifecycle import OPEN_STATES
from bot.case.recipients import task_line
from bot.case.store import get_case
from bot.cli.exits import EXIT_USAGE
from bot.settings import Settings
from bot.work import actions, review
from bot.work.desk import Desk
from storage import audit
from storage.models import Case

cases_app = typer.Typer(help="Work on cases without Slack.", no_args_is_help=True)

ActorOpt = Annotated[str | None, typer.Option(help="Who acts (audited); default: the OS user.")]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def _actor(actor: str | None) -> str:
    return f"cli:{actor or getpass.getuser()}"[:128]


def _with_desk(ctx: typer.Context, fn: Callable[[Desk], Awaitable[actions.ActionResult]]) -> None:
    async def go() -> actions.ActionResult:
        async with open_desk(_settings(ctx), with_model=False) as desk:
            return await fn(desk)

    result = asyncio.run(go())
    typer.echo(result.message)
    if not result.done:
        raise typer.Exit(EXIT_USAGE)  # nothing to do: exit codes are in bot.cli.exits


def _due_label(case: Case, today: date) -> str:
    days = (case.effective_due - today).days
    return f"OVERDUE {-days}d" if days < 0 else f"{days}d left"


@cases_app.command("list")
def list_cmd(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Closed cases too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False,
) -> None:
    """Open cases by due date (overdue first)."""

    async def go() -> list[Case]:
        async with open_desk(_settings(ctx), with_model=False) as desk, desk.sessions() as session:
            return await store.list_cases(session, states=None if all_ else list(OPEN_STATES))

    today = date.today()
    for case in asyncio.run(go()):
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "ref": case.reference,
                        "state": case.state,
                        "intents": case.intents,
                        "language": case.language,
                        "due": case.effective_due.isoformat(),
                    }
                )
            )
        else:
            typer.echo(
                f"{case.reference:<9} {case.state:<22} {','.join(case.intents):<20} "
                f"{case.language or '?':<3} due {case.effective_due} "
                f"({_due_label(case, today)})"
            )


@cases_app.command("show")
def show_cmd(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="DSR-n")],
    full: Annotated[
        bool, typer.Option("--full", help="The whole message, not 4,000 chars.")
    ] = False,
) -> None:
    """One case: who asked, what they wrote, what approving would do (the change as a diff, the
    deletion preview), what is wrong if it is stuck, its mails and its audit trail."""

    async def go() -> None:
        async with open_desk(_settings(ctx), with_model=False) as desk:
            async with desk.sessions() as session:
                case = await get_case(session, ref)
                mails = await store.outbox_of_case(session, case.id or 0)
                tasks = await store.recipient_tasks(session, case.id or 0)
            seen = await review.review(desk, case)
            subject = case_data(case).subject or SubjectFacts()
            typer.echo(f"{case.reference}  {case.state}")
            if case.purged_at is not None:
                when = case.purged_at.date().isoformat()
                typer.echo(f"  PURGED      {when}: personal content removed (see the audit log)")
            if seen.problem:
                typer.echo(f"  PROBLEM     {review.printable(seen.problem, 1000)}")
            typer.echo(f"  requester   {review.printable(seen.requester or 'unknown', 320)}")
            typer.echo(f"  intents     {', '.join(case.intents)}  (review: {case.needs_review})")
            typer.echo(
                "  scores      "
                + ", ".join(
                    f"{k} {v:.2f}" for k, v in sorted(case.scores.items(), key=lambda kv: -kv[1])
                )
            )
            typer.echo(f"  language    {case.language or '?'}   channel {case.channel}")
            typer.echo(
                f"  received    {case.received_at:%Y-%m-%d %H:%M} UTC; due "
                f"{case.effective_due}"
                + (f" (extended: {case.extension_reason})" if case.extended_to else "")
            )
            typer.echo(
                f"  subject     {'found' if subject.found else 'no match'}; "
                f"accounts {len(subject.accounts)}; verified by "
                f"{case.verified_by or '-'}"
            )
            if seen.message is None:
                typer.echo("  message     (none kept)")
            else:
                typer.echo("  message")
                text = review.printable(seen.message, 1_000_000 if full else 4000)
                for line in text.splitlines() or [""]:
                    typer.echo(f"    | {line}")
            for title, lines in (
                ("proposed change", seen.change),
                ("deletion preview", seen.erasure),
            ):
                if lines:
                    typer.echo(f"  {title}")
                    for line in lines:
                        typer.echo(f"    {review.printable(line, 500)}")
            if tasks:
                typer.echo("  recipients (Art. 19)")
                for task in tasks:
                    typer.echo(f"    {task_line(task)}")
            for row in mails:
                typer.echo(f"  {row.kind:<5} {row.template:<20} {row.status}  #{row.id}")
            async for ev in audit.events(desk.engine, case_ref=case.reference):
                typer.echo(f"  #{ev.seq:<5} {ev.ts[:19]} {ev.actor:<28} {ev.action}")

    asyncio.run(go())


@cases_app.command("change")
def change_cmd(
    ctx: typer.Context,
    ref: str,
    changes: Annotated[list[str], typer.Argument(help="FIELD=VALUE, e.g. phone=+33612345678")],
    actor: ActorOpt = None,
) -> None:
    """Supply the field(s) and new value(s) of a correction before it is approved (a case in
    triage for want of a field starts over; a failed one goes back to approval)."""
    pairs = actions.parse_changes(changes)
    _with_desk(ctx, lambda d: actions.supply_change(d, ref, _actor(actor), pairs))


@cases_app.command("retry")
def retry_cmd(ctx: typer.Context, ref: str, actor: ActorOpt = None) -> None:
    """Carry out a failed case again, or resend the undelivered result mail of one carried out;
    exit 2 when there is nothing to retry."""
    _with_desk(ctx, lambda d: actions.retry(d, ref, _actor(actor)))


@cases_app.command("recipient-done")
def recipient_done_cmd(
    ctx: typer.Context,
    ref: str,
    key: Annotated[str, typer.Argument(help="the recipient's key, as `dsr cases show` lists it")],
    actor: ActorOpt = None,
) -> None:
    """Mark a recipient told by hand (one with no contact in the data map); audited."""
    _with_desk(ctx, lambda d: actions.recipient_done(d, ref, key, _actor(actor)))


@cases_app.command("approve")
def approve_cmd(ctx: typer.Context, ref: str, actor: ActorOpt = None) -> None:
    """Approve (four-eyes deletions need two different approvers)."""
    _with_desk(ctx, lambda d: actions.approve(d, ref, _actor(actor)))


@cases_app.command("reject")
def reject_cmd(
    ctx: typer.Context,
    ref: str,
    reason: Annotated[str, typer.Option(help="Told to the customer.")],
    actor: ActorOpt = None,
) -> None:
    """Reject with a reason that the customer is told."""
    _with_desk(ctx, lambda d: actions.reject(d, ref, _actor(actor), reason))


@cases_app.command("reclassify")
def reclassify_cmd(
    ctx: typer.Context,
    ref: str,
    intents: Annotated[str, typer.Argument(help="e.g. see,delete")],
    actor: ActorOpt = None,
) -> None:
    """Set the intents by hand; the case starts over and the choice trains the classifier."""
    _with_desk(ctx, lambda d: actions.reclassify(d, ref, _actor(actor), intents.split(",")))


@cases_app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    ref: str,
    reason: Annotated[str, typer.Option(help="How the identity was checked.")],
    actor: ActorOpt = None,
) -> None:
    """Mark the requester verified by other means (audited with the reason)."""
    _with_desk(ctx, lambda d: actions.verify_manually(d, ref, _actor(actor), reason))


@cases_app.command("extend")
def extend_cmd(
    ctx: typer.Context,
    ref: str,
    reason: Annotated[str, typer.Option(help="Told to the customer.")],
    months: Annotated[int, typer.Option(min=1, max=2)] = 1,
    actor: ActorOpt = None,
) -> None:
    """Extend the deadline by 1 or 2 months (Art. 12(3))."""
    _with_desk(ctx, lambda d: actions.extend(d, ref, _actor(actor), months, reason))


@cases_app.command("lift")
def lift_cmd(ctx: typer.Context, ref: str, actor: ActorOpt = None) -> None:
    """Lift a case's restriction (Art. 18(3)): the customer is told first, then it is lifted."""
    _with_desk(ctx, lambda d: actions.lift(d, ref, _actor(actor)))


@cases_app.command("dismiss")
def dismiss_cmd(ctx: typer.Context, ref: str, actor: ActorOpt = None) -> None:
    """Close a triage case that is not a data-subject request."""
    _with_desk(ctx, lambda d: actions.dismiss(d, ref, _actor(actor)))


@cases_app.command("purge")
def purge_cmd(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the cases that would be purged; change nothing.")
    ] = False,
    actor: ActorOpt = None,
) -> None:
    """Purge the personal content of cases closed longer than DSR_CASE_RETENTION ago (as the
    hourly sweep does): the reference, intents, dates, outcome and audit events stay. Exit 2
    when there is nothing to purge."""
    from bot.work.purge import purge_expired

    settings = _settings(ctx)

    async def go() -> tuple[str, ...]:
        async with open_desk(settings, with_model=False) as desk:
            run = await purge_expired(desk, dry_run=dry_run, actor=_actor(actor))
            return run.references

    refs = asyncio.run(go())
    verb = "would purge" if dry_run else "purged"
    kept = f"closed more than {settings.case_retention} ago"
    typer.echo(f"{verb} {len(refs)} case(s) {kept}" + (": " + " ".join(refs) if refs else ""))
    if not refs:
        raise typer.Exit(EXIT_USAGE)


def register(app: typer.Typer) -> None:
    """Add `cases`."""
    app.add_typer(cases_app, name="cases")
