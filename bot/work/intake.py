"""Intake in two stages: record every raw message at once, then parse and route it.

`record` is what a mailbox reader calls: it keeps each message raw under its Message-ID (one
transaction per batch, a repeat delivery is a no-op), so the mailbox can be flagged as soon as
the bytes are safe, and reading a backlog costs a header scan per message. `process_recorded`
then parses each `pending` record, recognises robots and replies, classifies requests and opens
their case, in one transaction per message that also stamps the record's kind; a crash between
the stages leaves the record pending for the next pass. What cannot be parsed is kept and shown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession
from structlog.contextvars import bound_contextvars

from bot.case import repeats, store, verify
from bot.case.data import case_data, request_data
from bot.case.lifecycle import CaseState, Event, NewRequest, open_request, transition
from bot.case.messages import OutboxItem, mail_item, slack_item
from bot.case.policy import OBJECT, rights_intents
from bot.case.repeats import Repeat
from bot.case.store import add_outbox, get_case
from bot.errors import CaseNotFound
from bot.work import recipients
from bot.work.desk import Desk
from bot.work.parsing import PARSER
from bot.work.pipeline import to_requester
from intents.classify import classify
from intents.extract import extract
from intents.rights import refine
from mail.envelope import first_look
from mail.errors import MailParseError
from mail.intake import Fetched, Outcome
from mail.parse import SYNTHETIC_DOMAIN, ParsedMessage
from mail.quotes import clean_subject, own_lines
from mail.robots import detect_robot
from mail.threading import referenced_case
from storage import audit
from storage.customer.rights import objectable_purposes
from storage.db import conflict
from storage.errors import ConcurrentUpdateError
from storage.models import (
    Case,
    InboundMessage,
    RecipientTask,
    RecordKind,
    VerificationChallenge,
    reference_of,
    utcnow,
)
from storage.sealing import lookup_hash

log = logging.getLogger(__name__)

#: Failures worth another try: the case moved under us, or the database connection dropped.
TRANSIENT = (ConcurrentUpdateError, OperationalError)


@dataclass(frozen=True)
class Ingested:
    """What intake did with one message (for the caller and tests)."""

    outcome: Outcome
    kind: str  # request | reply | robot | unparseable | oversize | error | duplicate
    case_ref: str | None = None


class _Taken(Exception):
    """Another process stamped the record first; this transaction must not commit."""


# -- stage one: keep the bytes -------------------------------------------------------------


def _row(desk: Desk, item: Fetched) -> dict[str, Any]:
    look = first_look(item.raw)
    keep = desk.settings.max_message_bytes  # beyond it only the header is ever read
    size = max(look.size, item.size or 0)
    return {
        "message_id": look.message_id,
        "channel": "email",
        "source": item.source[:200],
        "kind": RecordKind.UNPARSEABLE if look.blank else RecordKind.PENDING,
        "size": size,
        "sha256": look.sha256,
        "raw": item.raw[:keep],
        "truncated": size > min(look.size, keep),
        "error": "the message is empty" if look.blank else None,
        "received_at": utcnow(),
    }


async def record(desk: Desk, items: Sequence[Fetched]) -> list[Outcome]:
    """Stage one: keep every message of a batch raw, in one transaction.

    A Message-ID already on record with the same bytes (a repeat delivery, a re-read after a
    crash) is skipped by the database itself; one already used by *another* message is kept
    too, under its digest, so that a reused or forged Message-ID cannot hide a message. A blank
    message is recorded as unparseable and goes to quarantine.

    Returns:
        One outcome per item, in order; the intake flags the messages only after this returns.
    """
    rows = await _record_rows(desk, items)
    return [
        Outcome.QUARANTINE if r["kind"] == RecordKind.UNPARSEABLE else Outcome.PROCESSED
        for r in rows
    ]


async def _record_rows(desk: Desk, items: Sequence[Fetched]) -> list[dict[str, Any]]:
    """`record`, returning the rows as stored (their final Message-IDs)."""
    if not items:
        return []
    rows = [_row(desk, item) for item in items]
    dialect = desk.engine.dialect.name
    async with desk.sessions() as session, session.begin():
        await store.insert_records(session, rows, dialect=dialect)
        stored = await store.stored_digests(session, list({str(r["message_id"]) for r in rows}))
        clashes = [r for r in rows if stored.get(r["message_id"]) not in (None, r["sha256"])]
        for row in clashes:
            row["message_id"] = f"<{row['sha256']}@{SYNTHETIC_DOMAIN}>"
            row["error"] = "its Message-ID was already used by another message"
            await audit.append(
                session,
                action="message_id_reused",
                actor="system",
                details={"sha256": row["sha256"], "size": row["size"]},
            )
        if clashes:
            await store.insert_records(session, clashes, dialect=dialect)
        for row in rows:
            if row["kind"] == RecordKind.UNPARSEABLE:
                await audit.append(
                    session,
                    action="message_unparseable",
                    actor="system",
                    details={"sha256": row["sha256"], "size": row["size"], "error": "empty"},
                )
    if any(r["kind"] == RecordKind.PENDING for r in rows):
        desk.inbound_ready.set()
    return rows


# -- stage two: parse, recognise, route ------------------------------------------------------


async def process_recorded(desk: Desk, limit: int = 50) -> int:
    """Stage two for up to `limit` pending records, oldest first; returns how many it finished
    (one left pending by a transient failure does not count, so the caller waits a little).

    Each record is handled in its own transaction that starts by locking the row (`SKIP
    LOCKED`, so several `dsr run` processes share the work). A case that moved meanwhile or a
    dropped database connection leaves the record pending for the next pass; any other failure
    marks that record `error` (kept, with the exception's type) instead of stopping the desk.
    """
    async with desk.sessions() as session:
        ids = await store.pending_record_ids(session, limit)
    done = 0
    for row_id in ids:
        try:
            await process_one(desk, row_id)
        except TRANSIENT as exc:  # the record stays pending; the next pass tries it again
            log.info("inbound record %s: %s; retried on the next pass", row_id, type(exc).__name__)
            continue
        except Exception as exc:  # one poisoned message must not stop the desk
            if isinstance(exc, DBAPIError) and conflict(exc):  # a deadlock: not the message's fault
                log.info("inbound record %s: cancelled by a deadlock; retried", row_id)
                continue
            await _failed(desk, row_id, exc)
        done += 1
    return done


async def process_one(desk: Desk, row_id: int) -> Ingested:
    """Stage two for one record (a no-op when it is no longer pending).

    The parse runs first, outside the transaction and off the event loop, within the parse
    budget (`bot.work.parsing`), so a slow message holds neither the desk nor a database lock.
    """
    try:
        with bound_contextvars(record=row_id):
            async with desk.sessions() as session:
                peek = await store.get_record(session, row_id)
            if peek is None or peek.kind != RecordKind.PENDING:
                raise _Taken
            parsed = await _parse(desk, peek)
            async with desk.sessions() as session, session.begin():
                row = await store.lock_pending_record(session, row_id)
                if row is None:
                    raise _Taken
                return await _process(desk, session, row, parsed)
    except _Taken:
        return Ingested(Outcome.PROCESSED, "duplicate")


async def _parse(desk: Desk, row: InboundMessage) -> ParsedMessage | MailParseError:
    try:
        return await PARSER.parse(
            row.raw or b"",
            budget=desk.settings.parse_budget_seconds,
            trusted_authserv_id=desk.settings.trusted_authserv_id,
            max_bytes=desk.settings.max_message_bytes,
            declared_size=row.size if row.truncated else None,
        )
    except MailParseError as exc:
        return exc


async def ingest(desk: Desk, fetched: Fetched) -> Ingested:
    """Both stages for one message at once (the demo, tests, and one-off imports)."""
    [row] = await _record_rows(desk, [fetched])
    if row["kind"] == RecordKind.UNPARSEABLE:
        return Ingested(Outcome.QUARANTINE, "unparseable")
    async with desk.sessions() as session:
        found = await store.find_record(session, str(row["message_id"]))
    if found is None or found.kind != RecordKind.PENDING or found.sha256 != row["sha256"]:
        return Ingested(Outcome.PROCESSED, "duplicate")
    return await process_one(desk, int(found.id or 0))


def _record_message_id(row: InboundMessage, parsed: str) -> str:
    """The Message-ID the record is stored under (the column keeps only its keyed hash): the
    header's, the one intake made up for a mail without a usable one, or — its Message-ID was
    already taken by another message — the one made from its digest."""
    if lookup_hash(parsed) == row.message_id:
        return parsed
    looked = first_look(row.raw or b"").message_id
    if lookup_hash(looked) == row.message_id:
        return looked
    return f"<{row.sha256}@{SYNTHETIC_DOMAIN}>"


async def _stamp(
    session: AsyncSession, row: InboundMessage, kind: RecordKind, **fields: Any
) -> None:
    """Give the record its kind in this transaction (only while it is still pending)."""
    if not await store.stamp_record(session, row.id, kind, **fields):
        raise _Taken


async def _process(
    desk: Desk, session: AsyncSession, row: InboundMessage, parsed: ParsedMessage | MailParseError
) -> Ingested:
    if isinstance(parsed, MailParseError):
        return await _unparseable(desk, session, row, type(parsed).__name__, str(parsed))
    msg = parsed
    # The record's Message-ID is the one every later step refers to.
    msg = dataclasses.replace(msg, message_id=_record_message_id(row, msg.message_id))
    settings = desk.settings
    robot = detect_robot(
        msg, own_domain=settings.own_domain, own_addresses=frozenset({settings.privacy_address})
    )
    sender = desk.pseudonym(msg.from_addr) if msg.from_addr else None
    if robot is not None or msg.oversize:
        kind = RecordKind.ROBOT if robot is not None else RecordKind.OVERSIZE
        await _stamp(
            session,
            row,
            kind,
            robot_kind=robot.value if robot else None,
            sender_pseudonym=sender,
        )
        await audit.append(
            session,
            action=f"message_{kind}",
            actor="system",
            details={
                "robot_kind": robot.value if robot else None,
                "size": msg.size,
                "sha256": msg.sha256,
            },
        )
        log.info("inbound %s recorded as %s (%s)", msg.sha256[:12], kind, robot)
        return Ingested(Outcome.PROCESSED, kind)
    task = await store.recipient_task_by_message_ids(session, [*msg.in_reply_to, *msg.references])
    if task is not None:
        # A recipient answering what we told it (Art. 19): its task, never the customer's case.
        return await _recipient_reply(desk, session, row, task, msg)
    number = referenced_case(msg, own_domain=settings.own_domain)
    if number is None:
        # No thread and no [DSR-n]: a fresh mail from a challenged address carrying the code of
        # one of its open challenges answers that challenge (found by code hash and sender).
        number = await _case_by_code(desk, session, msg)
    if number is not None:
        try:
            case = await get_case(session, number, for_update=True)
        except CaseNotFound:
            pass  # a tag for a case we do not have: treat it as a new request
        else:
            return await _reply(desk, session, row, case, msg)
    return await _request(desk, session, row, msg)


async def _request(
    desk: Desk, session: AsyncSession, row: InboundMessage, msg: ParsedMessage
) -> Ingested:
    text = msg.body_for_classification or msg.subject
    result = await asyncio.to_thread(classify, desk.classifier(), text)
    result = refine(result, text)
    if result.rights:
        handled = rights_intents(result.intents or (result.intent,), result.rights)
        result = dataclasses.replace(result, intent=handled[0], intents=handled)
    found = await asyncio.to_thread(extract, msg.text, result.language)
    # A representative is not the subject: only the identifiers in the letter are looked up, so
    # no challenge (and no data) ever goes to the writer's own account for someone else's case.
    # A letter that names nobody else is read as the writer's own (a "my daughter set it up").
    if result.on_behalf and msg.from_addr:  # the writer's own address (a signature) is not theirs
        own = msg.from_addr.lower()
        found = dataclasses.replace(
            found, emails=tuple(e for e in found.emails if e.lower() != own)
        )
    other = result.on_behalf and bool(found.emails or found.handles)
    data = request_data(
        None if other else msg.from_addr,
        found,
        text=msg.text,
        subject_line=msg.subject,
        message_id=msg.message_id,
        references=msg.references,
        dmarc=msg.auth.dmarc if msg.auth else None,
    ).with_(
        rights=result.rights,
        on_behalf=result.on_behalf,
        cited=result.cited,
        purposes=tuple(objectable_purposes(desk.executor.datamap))
        if OBJECT in result.rights
        else (),
    )
    sender = desk.pseudonym(msg.from_addr) if msg.from_addr else None
    await _stamp(session, row, RecordKind.REQUEST, sender_pseudonym=sender)
    intents = [str(i) for i in (result.intents or (result.intent,))]
    repeat = None
    if msg.from_addr and not result.needs_review:
        settings = desk.settings
        since = utcnow() - timedelta(days=settings.repeat_window_days)
        assert sender is not None
        earlier = await store.requester_cases(session, sender, since=since)
        repeat = repeats.decide(earlier, data, intents, threshold=settings.repeat_threshold)
        if repeat.join is not None:
            return await _join(desk, session, row, msg, repeat)
        if repeat.repetitive:
            data = data.with_(repetitive=True, history=repeat.history)
    request = NewRequest(
        channel="email",
        actor=desk.customer_actor(msg.from_addr),
        requester=msg.from_addr,
        result=result,
        data=data,
        details={
            "needs_review": result.needs_review,
            "language": result.language,
            "inbound_sha256": msg.sha256[:16],
            "dmarc": data.dmarc,
        },
    )
    case = await open_request(session, request)
    await store.link_record(session, row.id, case.id)
    if repeat is not None and repeat.repetitive:
        await audit.append(
            session,
            action="repetitive_requests",
            actor="system",
            case_ref=case.reference,
            details={"count": repeat.count, "history": list(repeat.history)},
        )
    return Ingested(Outcome.PROCESSED, "request", case.reference)


async def _join(
    desk: Desk, session: AsyncSession, row: InboundMessage, msg: ParsedMessage, repeat: Repeat
) -> Ingested:
    """The same request again while one is open: it joins that case; the customer is told,
    staff see the count (and a repetitive stream is flagged, never refused)."""
    assert repeat.join is not None and repeat.join.id is not None and msg.from_addr
    case = await get_case(session, repeat.join.id, for_update=True)
    data = case_data(case)
    joined = data.joined + 1
    changed = data.with_(
        joined=joined,
        repetitive=data.repetitive or repeat.repetitive,
        history=data.history or tuple(r for r in repeat.history if r != case.reference),
    )
    outbox = [
        mail_item(
            "request_joined",
            to=msg.from_addr,
            lang=case.language,
            context={
                "case_ref": case.reference,
                "received_on": case.received_at.date().isoformat(),
                "due_date": case.effective_due.isoformat(),
            },
            in_reply_to=msg.message_id,
            references=[*msg.references, *([msg.message_id] if msg.message_id else [])],
        )
    ]
    if desk.slack_enabled:
        outbox.append(slack_item("thread_note", case=case.reference, note="request_joined"))
        if repeat.repetitive and not data.repetitive:
            outbox.append(slack_item("thread_note", case=case.reference, note="repetitive"))
        outbox.append(slack_item("case_card", case=case.reference))
    await transition(
        session,
        case,
        Event.NOTE,
        actor=desk.customer_actor(msg.from_addr),
        details={
            "note": "request_joined",
            "requests": joined + 1,
            "repetitive": changed.repetitive,
            "inbound_sha256": msg.sha256[:16],
        },
        changes={"data": changed.to_json()},
        outbox=outbox,
        domain=desk.settings.own_domain,
    )
    await store.link_record(session, row.id, case.id)
    return Ingested(Outcome.PROCESSED, "request_joined", case.reference)


async def _recipient_reply(
    desk: Desk,
    session: AsyncSession,
    row: InboundMessage,
    task: RecipientTask,
    msg: ParsedMessage,
) -> Ingested:
    """Record a recipient's reply on its case; from the address we wrote to, it acknowledges
    the task (anyone else's is audited and changes nothing)."""
    sender = desk.pseudonym(msg.from_addr) if msg.from_addr else None
    await _stamp(session, row, RecordKind.REPLY, case_id=task.case_id, sender_pseudonym=sender)
    done = await recipients.acknowledge_by_reply(desk, session, task, msg.from_addr)
    return Ingested(
        Outcome.PROCESSED, "recipient_reply" if done else "reply", reference_of(task.case_id)
    )


async def _case_by_code(desk: Desk, session: AsyncSession, msg: ParsedMessage) -> int | None:
    """The case of an open challenge to the sender whose code the customer typed, if any."""
    if not msg.from_addr:
        return None
    codes = verify.codes_in(_own_reply(msg).text)
    hashes = [verify.hash_code(desk.key, c) for c in codes]
    found = await store.challenge_by_code(
        session, desk.address_key(msg.from_addr), hashes, now=utcnow()
    )
    return found.case_id if found is not None else None


def _own_reply(msg: ParsedMessage, sender_key: str = "") -> verify.Reply:
    """A reply as verification judges it: only the customer's own lines count (quoted text,
    a forwarded challenge or a signature never do), plus the subject they sent."""
    body = own_lines(msg.text)[:20_000]
    return verify.Reply(
        sender_key=sender_key,
        text=f"{body}\n{msg.subject}",
        dmarc=msg.auth.dmarc if msg.auth else None,
        references=tuple(dict.fromkeys([*msg.in_reply_to, *msg.references])),
        words=f"{body}\n{clean_subject(msg.subject)}",
    )


async def _reply(
    desk: Desk, session: AsyncSession, row: InboundMessage, case: Case, msg: ParsedMessage
) -> Ingested:
    sender = desk.pseudonym(msg.from_addr) if msg.from_addr else "unknown"
    await _stamp(session, row, RecordKind.REPLY, case_id=case.id, sender_pseudonym=sender)
    actor = desk.customer_actor(msg.from_addr)
    if case.state == CaseState.AWAITING_VERIFICATION:
        await _verification_reply(desk, session, case, msg, actor)
    else:
        await transition(
            session,
            case,
            Event.NOTE,
            actor=actor,
            details={"note": "customer_replied"},
            outbox=[slack_item("thread_note", case=case.reference, note="customer_replied")]
            if desk.slack_enabled
            else [],
            domain=desk.settings.own_domain,
        )
    return Ingested(Outcome.PROCESSED, "reply", case.reference)


def _challenged_address(
    desk: Desk, case: Case, challenge: VerificationChallenge | None
) -> str | None:
    """The address a challenge went to, as we hold it (on file, or the new address asked for)."""
    if challenge is None:
        return None
    data = case_data(case)
    known = [*(data.subject.addresses if data.subject else ()), *filter(None, [data.new_address])]
    return next((a for a in known if desk.address_key(a) == challenge.sent_to_pseudonym), None)


async def _verification_reply(
    desk: Desk, session: AsyncSession, case: Case, msg: ParsedMessage, actor: str
) -> None:
    sender_key = desk.address_key(msg.from_addr) if msg.from_addr else ""
    result = await verify.answer(session, case, _own_reply(msg, sender_key), key=desk.key)
    verdict = result.verdict
    if verdict is verify.Verdict.OK:
        await _confirmed(desk, session, case, result.challenge, actor)
        return
    if verdict in verify.REFUSALS:
        await _refused(desk, session, case, verdict, actor)
        return
    counted = verdict in verify.COUNTED
    await audit.append(
        session,
        action="verification_refused",
        actor=actor,
        case_ref=case.reference,
        details={"verdict": verdict.value, "counted": counted},
    )
    if counted:  # the challenged address itself wrote, without the right code: tell it
        to = _challenged_address(desk, case, result.challenge)
        if to is not None:
            item = mail_item(
                "verification_failed",
                to=to,
                lang=case.language,
                context={"case_ref": case.reference},
                in_reply_to=msg.message_id,
                references=[*msg.references, msg.message_id],
            )
            await add_outbox(session, case, [item], domain=desk.settings.own_domain)
    elif verdict in verify.IGNORED:
        await _ignored(desk, session, case)


#: After this many ignored replies staff are told in the card's thread (and the card says so).
IGNORED_ALERT = 3


async def _ignored(desk: Desk, session: AsyncSession, case: Case) -> None:
    """Count a reply that could not count, for the card; tell staff once there is a burst."""
    data = case_data(case)
    count = data.ignored_replies + 1
    await store.apply_move(
        session,
        case,
        {"data": data.with_(ignored_replies=count).to_json(), "version": case.version + 1},
    )
    if count == IGNORED_ALERT and desk.slack_enabled:
        items = [
            slack_item("thread_note", case=case.reference, note="replies_ignored"),
            slack_item("case_card", case=case.reference),
        ]
        await add_outbox(session, case, items, domain=desk.settings.own_domain)


async def _confirmed(
    desk: Desk,
    session: AsyncSession,
    case: Case,
    challenge: VerificationChallenge | None,
    actor: str,
) -> None:
    """A code from the challenged address: the case is verified once every needed confirmation
    is in (consent from an address on file; for an e-mail change, the new address too)."""
    assert challenge is not None
    purpose = verify.Purpose(challenge.purpose)
    data = case_data(case)
    data = data.with_(confirmations=tuple(dict.fromkeys([*data.confirmations, purpose.value])))
    address = _challenged_address(desk, case, challenge)
    if purpose is verify.Purpose.CONSENT and address is not None:
        data = data.with_(verified_address=address)
    challenges = await store.case_challenges(session, case.id or 0)
    cards = [slack_item("case_card", case=case.reference)] if desk.slack_enabled else []
    if not verify.confirmed(challenges):
        await transition(
            session,
            case,
            Event.NOTE,
            actor=actor,
            details={"note": "confirmation", "purpose": purpose.value},
            changes={"data": data.to_json()},
            outbox=[slack_item("thread_note", case=case.reference, note="confirmed_one"), *cards]
            if desk.slack_enabled
            else [],
            domain=desk.settings.own_domain,
        )
        return
    both = any(c.purpose == verify.Purpose.OWNERSHIP for c in challenges)
    verified = data.verified_address
    await transition(
        session,
        case,
        Event.VERIFY,
        actor=actor,
        details={"method": "code", "confirmations": list(data.confirmations)},
        changes={
            "verified_by": "code_old_and_new_address" if both else "code",
            "next_action_at": None,
            "subject_pseudonym": desk.pseudonym(verified) if verified else case.subject_pseudonym,
            "data": data.to_json(),
        },
        outbox=cards,
        domain=desk.settings.own_domain,
    )


async def _refused(
    desk: Desk, session: AsyncSession, case: Case, verdict: verify.Verdict, actor: str
) -> None:
    """The challenged address said no (or asked what this is, without the code): close the
    case without any action, revoke its codes, and tell staff and the requester."""
    data = case_data(case)
    now = utcnow()
    on_file = {
        c.sent_to_pseudonym
        for c in await store.case_challenges(session, case.id or 0)
        if c.purpose == verify.Purpose.CONSENT
    }
    await verify.revoke_open(session, case, now)
    outbox: list[OutboxItem] = []
    if desk.slack_enabled:
        outbox = [
            slack_item("thread_note", case=case.reference, note="subject_refused"),
            slack_item("case_card", case=case.reference),
        ]
    expiry = case.next_action_at or now
    await transition(
        session,
        case,
        Event.SUBJECT_REFUSED,
        actor=actor,
        details={"verdict": verdict.value},
        changes={"next_action_at": None, "data": data.with_(refused_by_subject=True).to_json()},
        outbox=outbox,
        domain=desk.settings.own_domain,
    )
    requester = case.requester_address
    if requester:
        # The same words, at the same moment, as for a request nobody answered (its expiry):
        # a requester who does not hold the address learns nothing about whether it exists.
        # The holder of an address on file who asked and then refused is told at once.
        asked_by_holder = desk.address_key(requester) in on_file
        await add_outbox(
            session,
            case,
            [to_requester(desk, case, "expired")],
            domain=desk.settings.own_domain,
            not_before=None if asked_by_holder else max(expiry, now),
        )


async def _alert(
    desk: Desk, session: AsyncSession, record_id: int, kind: RecordKind, size: int
) -> None:
    """Tell staff in Slack that a kept message needs a person (`dsr inbox` lists it anyway)."""
    if desk.slack_enabled:
        item = slack_item("inbox_alert", record=record_id, kind=kind.value, size=size)
        await store.add_outbox(session, None, [item], domain=desk.settings.own_domain)


async def _unparseable(
    desk: Desk, session: AsyncSession, row: InboundMessage, error: str, message: str
) -> Ingested:
    """Keep the record, say why it could not be read, and tell staff."""
    await _stamp(session, row, RecordKind.UNPARSEABLE, error=message[:2000])
    await audit.append(
        session,
        action="message_unparseable",
        actor="system",
        details={"sha256": row.sha256, "size": row.size, "error": error},
    )
    await _alert(desk, session, row.id or 0, RecordKind.UNPARSEABLE, row.size)
    log.warning("inbound record %s could not be parsed (%s); kept", row.id, error)
    return Ingested(Outcome.PROCESSED, "unparseable")


async def _failed(desk: Desk, row_id: int, exc: Exception) -> None:
    """Stage two broke on a record: keep it as `error` so it neither blocks nor vanishes."""
    # Where it broke, not the exception's text or traceback: either may quote the customer.
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error("inbound record %s: processing failed (%s at %s)", row_id, type(exc).__name__, where)
    async with desk.sessions() as session, session.begin():
        row = await store.get_record(session, row_id)
        if row is None or row.kind != RecordKind.PENDING:
            return
        await _stamp(
            session, row, RecordKind.ERROR, error=f"{type(exc).__name__} during processing"
        )
        await _alert(desk, session, row_id, RecordKind.ERROR, row.size)
        await audit.append(
            session,
            action="message_failed",
            actor="system",
            details={"sha256": row.sha256, "size": row.size, "error": type(exc).__name__},
        )
