"""What staff see before they act on a case, the same in `dsr cases show` and on the Slack card:
who asked, what they wrote, the proposed change as a diff, the deletion preview, and — for a case
that is stuck or failed — what went wrong in plain words and how to repair it.

Gathers (I/O); the wording lives in pure functions here so both front ends say the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.case import store
from bot.case.data import case_data, verified_address
from bot.case.lifecycle import CaseState
from bot.work.delivery import Undelivered, undelivered
from bot.work.desk import Desk
from intents.labels import Intent
from mail.errors import MailParseError
from storage.customer import CustomerStoreError, Subject
from storage.customer.plans import ChangePlan
from storage.models import Case, InboundMessage, OutboxStatus, RecordKind

__all__ = ["Review", "change_diff", "printable", "problem", "request_text", "review"]

# C0/C1 controls (terminal escapes), bidi overrides and zero-width characters; not \n or \t
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: str, limit: int = 4000) -> str:
    """Customer text made safe for a terminal: no control or bidi characters (so no escape
    sequence can recolour, hide or rewrite what staff read), shortened with a note (pure)."""
    clean = _UNSAFE.sub("", text.replace("\r\n", "\n"))
    if len(clean) <= limit:
        return clean
    return clean[:limit] + f"\n[… {len(clean) - limit} more characters]"


_PREVIEW_STATES = frozenset(
    {
        CaseState.NEEDS_TRIAGE,
        CaseState.AWAITING_VERIFICATION,
        CaseState.AWAITING_APPROVAL,
        CaseState.FAILED,
    }
)
NEEDS_FIELD = (
    "The request asks for a correction but names no field we could recognise. Read the message, "
    "then supply the field and new value (`dsr cases change REF FIELD=VALUE`, or *Supply change* "
    "on the card), or reject it."
)


@dataclass(frozen=True)
class Review:
    """Everything staff need to decide on a case (customer text is raw here: escape it)."""

    requester: str | None
    message: str | None
    change: tuple[str, ...] = ()
    erasure: tuple[str, ...] = ()
    problem: str | None = None
    mails: tuple[Undelivered, ...] = ()


def change_diff(plan: ChangePlan) -> tuple[str, ...]:
    """A correction as a diff, two lines per field: `- Label: old` then `+ Label: new` (pure)."""
    lines: list[str] = []
    for c in plan.changes:
        lines += [
            f"- {c.label}: {c.old if c.old is not None else '(empty)'}",
            f"+ {c.label}: {c.new}",
        ]
    return tuple(lines) or ("(the values given are already on file: nothing would change)",)


def problem(case: Case, mails: tuple[Undelivered, ...] = ()) -> str | None:
    """What keeps the case from moving on, in plain words with the way out; None if nothing."""
    data = case_data(case)
    if case.state == CaseState.FAILED:
        why = data.failure or "no reason was recorded"
        return (
            f"Carrying it out failed: {why}. Fix the cause, then "
            f"`dsr cases retry {case.reference}` "
            "(or *Retry* on the card)"
            + (
                "; for a correction, supply the field first (`dsr cases change`)"
                if Intent.CHANGE in case.intents
                else ""
            )
            + ", or reject it."
        )
    if Intent.CHANGE in case.intents and not data.changes and case.state in _PREVIEW_STATES:
        return NEEDS_FIELD
    waiting = [m for m in mails if m.status != OutboxStatus.SENT]
    if case.state == CaseState.APPROVED and waiting:
        first = waiting[0]
        return (
            f"Carried out; the `{first.template}` mail to the customer is not delivered yet, "
            f"so the case is not done: {first.explanation}."
        )
    return None


def request_text(record: InboundMessage | None) -> str | None:
    """The customer's own words from the record that opened the case (None if unreadable)."""
    if record is None or record.raw is None:
        return None
    if record.kind == RecordKind.STAFF:
        return record.raw.decode("utf-8", "replace")
    from mail.parse import parse_message  # the full MIME parser, only when a case is shown

    try:
        msg = parse_message(record.raw, trusted_authserv_id=None, max_bytes=len(record.raw) + 1)
    except MailParseError:
        return None
    return msg.body_for_classification or None


async def _previews(desk: Desk, case: Case) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if case.state not in _PREVIEW_STATES:
        return (), ()
    address = verified_address(case)
    subject: Subject | None = None
    if address is not None:
        try:
            subject = (await desk.executor.find(address, counts=False)).subject
        except CustomerStoreError:
            subject = None
    change: tuple[str, ...] = ()
    erasure: tuple[str, ...] = ()
    if Intent.CHANGE in case.intents:
        changes = dict(case_data(case).changes)
        if not changes:
            change = ("(no field named yet)",)
        elif subject is None:
            change = (
                *(f"+ {f}: {v}" for f, v in changes.items()),
                "(current values shown once the subject is verified)",
            )
        else:
            try:
                change = change_diff(await desk.executor.preview_change(subject, changes))
            except CustomerStoreError as exc:
                change = (f"not possible: {exc}",)
    if Intent.DELETE in case.intents and subject is not None:
        try:
            erasure = tuple((await desk.executor.preview_erasure(subject)).lines())
        except CustomerStoreError as exc:
            erasure = (f"not possible: {exc}",)
    return change, erasure


async def review(desk: Desk, case: Case) -> Review:
    """Gather what staff see about `case`."""
    async with desk.sessions() as session:
        record = await store.opening_record(session, case.id)
    mails = tuple(await undelivered(desk, case_id=case.id))
    change, erasure = await _previews(desk, case)
    return Review(
        requester=case.requester_address,
        message=request_text(record),
        change=change,
        erasure=erasure,
        problem=problem(case, mails),
        mails=mails,
    )
