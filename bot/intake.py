"""Intake: one raw message in, exactly one record (and at most one new case) out.

The inbound record and the case it opens commit in one transaction, keyed by the unique
Message-ID, so however often a message is delivered or re-read after a crash it yields one case.
Robots are recorded and never answered; replies join their case; what cannot be parsed is kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot import verify
from bot.cases import OutboxItem, add_outbox, get_case, open_case, transition
from bot.desk import Desk, mail_item, slack_item
from bot.errors import CaseNotFound
from bot.lifecycle import Event, State
from bot.policy import is_about_processor_data
from intents.classify import classify
from intents.extract import extract
from mail.errors import MailParseError
from mail.intake import Fetched, Outcome
from mail.parse import ParsedMessage, parse_message
from mail.robots import detect_robot
from mail.threading import referenced_case
from storage import audit
from storage.models import Case, InboundMessage, utcnow

log = logging.getLogger(__name__)

RAW_KEEP_BYTES = 2_000_000  # raw bytes kept in the record; the size and hash are always kept


@dataclass(frozen=True)
class Ingested:
    """What intake did with one message (for the caller and tests)."""

    outcome: Outcome
    kind: str  # request | reply | robot | unparseable | oversize | duplicate
    case_ref: str | None = None


def _record(msg_id: str, raw: bytes, source: str, kind: str, **fields: object) -> InboundMessage:
    return InboundMessage(
        message_id=msg_id,
        source=source[:200],
        kind=kind,
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        raw=raw[:RAW_KEEP_BYTES],
        truncated=len(raw) > RAW_KEEP_BYTES,
        **fields,  # type: ignore[arg-type]
    )


async def _exists(session: AsyncSession, message_id: str) -> bool:
    stmt = select(InboundMessage.id).where(InboundMessage.message_id == message_id)
    return (await session.exec(stmt)).first() is not None


async def ingest(desk: Desk, fetched: Fetched) -> Ingested:
    """Handle one message from any intake; the intake flags it only after this returns."""
    raw = fetched.raw
    try:
        msg = parse_message(
            raw,
            trusted_authserv_id=desk.settings.trusted_authserv_id,
            max_bytes=desk.settings.max_message_bytes,
            declared_size=fetched.size if fetched.truncated else None,
        )
    except MailParseError as exc:
        return await _unparseable(desk, fetched, exc)
    try:
        async with desk.sessions() as session, session.begin():
            if await _exists(session, msg.message_id):
                return Ingested(Outcome.PROCESSED, "duplicate")
        return await _dispatch(desk, fetched, msg)
    except IntegrityError:  # another process recorded the same Message-ID first
        return Ingested(Outcome.PROCESSED, "duplicate")


async def _dispatch(desk: Desk, fetched: Fetched, msg: ParsedMessage) -> Ingested:
    settings = desk.settings
    robot = detect_robot(
        msg, own_domain=settings.own_domain, own_addresses=frozenset({settings.privacy_address})
    )
    sender = desk.pseudonym(msg.from_addr) if msg.from_addr else None
    if robot is not None or msg.oversize:
        kind = "robot" if robot is not None else "oversize"
        async with desk.sessions() as session, session.begin():
            session.add(
                _record(
                    msg.message_id,
                    fetched.raw,
                    fetched.source,
                    kind,
                    robot_kind=robot.value if robot else None,
                    sender_pseudonym=sender,
                )
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
    number = referenced_case(msg, own_domain=settings.own_domain)
    if number is not None:
        try:
            return await _reply(desk, fetched, msg, number)
        except CaseNotFound:
            pass  # a tag for a case we do not have: treat it as a new request
    return await _request(desk, fetched, msg)


async def _request(desk: Desk, fetched: Fetched, msg: ParsedMessage) -> Ingested:
    text = msg.body_for_classification or msg.subject
    result = await asyncio.to_thread(classify, desk.model, text)
    found = await asyncio.to_thread(extract, msg.text, result.language)
    intents = [str(i) for i in result.intents] or [str(result.intent)]
    data = {
        "identifiers": list(
            dict.fromkeys([*(a for a in [msg.from_addr] if a), *found.emails, *found.handles])
        )[:10],
        "changes": [list(c) for c in found.changes],
        "dmarc": msg.auth.dmarc if msg.auth else None,
        "message_id": msg.message_id,
        "references": list(msg.references),
        "subject_line": msg.subject[:200],
        "processor": is_about_processor_data(msg.text),
    }
    async with desk.sessions() as session, session.begin():
        inbound = _record(
            msg.message_id,
            fetched.raw,
            fetched.source,
            "request",
            sender_pseudonym=desk.pseudonym(msg.from_addr) if msg.from_addr else None,
        )
        session.add(inbound)
        await session.flush()  # the unique Message-ID is claimed here, before the case exists
        case = await open_case(
            session,
            actor=desk.customer_actor(msg.from_addr),
            channel="email",
            language=result.language if result.language != "und" else None,
            requester_address=msg.from_addr,
            subject_pseudonym=None,
            details={
                "intents": intents,
                "needs_review": result.needs_review,
                "language": result.language,
                "inbound_sha256": msg.sha256[:16],
                "dmarc": data["dmarc"],
            },
        )
        case.intents = intents
        case.scores = {k: round(float(v), 4) for k, v in result.scores.items()}
        case.confidence = max(result.scores.values(), default=0.0)
        case.needs_review = result.needs_review
        case.thread_root = msg.message_id
        case.data = data
        case.next_action_at = utcnow()
        session.add(case)
        inbound.case_id = case.id
        session.add(inbound)
    return Ingested(Outcome.PROCESSED, "request", case.reference)


async def _reply(desk: Desk, fetched: Fetched, msg: ParsedMessage, number: int) -> Ingested:
    sender = desk.pseudonym(msg.from_addr) if msg.from_addr else "unknown"
    async with desk.sessions() as session, session.begin():
        case = await get_case(session, number, for_update=True)
        session.add(
            _record(
                msg.message_id,
                fetched.raw,
                fetched.source,
                "reply",
                case_id=case.id,
                sender_pseudonym=sender,
            )
        )
        actor = desk.customer_actor(msg.from_addr)
        if case.state == State.AWAITING_VERIFICATION:
            await _verification_reply(desk, session, case, msg, sender, actor)
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


async def _verification_reply(
    desk: Desk, session: AsyncSession, case: Case, msg: ParsedMessage, sender: str, actor: str
) -> None:
    reply = verify.Reply(
        sender_pseudonym=sender,
        references=tuple(dict.fromkeys([*msg.in_reply_to, *msg.references])),
        text=msg.text[:20_000],
        dmarc=msg.auth.dmarc if msg.auth else None,
    )
    verdict = await verify.answer(session, case, reply, key=desk.key)
    if verdict is verify.Verdict.OK:
        outbox: list[OutboxItem] = []
        if desk.slack_enabled:
            outbox.append(slack_item("case_card", case=case.reference))
        await transition(
            session,
            case,
            Event.VERIFY,
            actor=actor,
            details={"method": "reply", "sender": sender},
            changes={
                "verified_by": "reply",
                "next_action_at": None,
                "subject_pseudonym": sender,
                "data": {**case.data, "verified_address": msg.from_addr},
            },
            outbox=outbox,
            domain=desk.settings.own_domain,
        )
        return
    await audit.append(
        session,
        action="verification_refused",
        actor=actor,
        case_ref=case.reference,
        details={"verdict": verdict.value},
    )
    if verdict in {verify.Verdict.WRONG_CODE, verify.Verdict.NO_PROOF}:
        on_file = case.data.get("subject", {}).get("addresses", [])
        if msg.from_addr and any(desk.pseudonym(a) == sender for a in on_file):
            await add_outbox(
                session,
                case,
                [
                    mail_item(
                        "verification_failed",
                        to=msg.from_addr,
                        lang=case.language,
                        context={"case_ref": case.reference},
                        in_reply_to=msg.message_id,
                        references=[*msg.references, msg.message_id],
                    )
                ],
                domain=desk.settings.own_domain,
            )


async def _unparseable(desk: Desk, fetched: Fetched, exc: MailParseError) -> Ingested:
    digest = hashlib.sha256(fetched.raw).hexdigest()
    message_id = f"<unparseable.{digest}@dsr.invalid>"
    try:
        async with desk.sessions() as session, session.begin():
            if not await _exists(session, message_id):
                session.add(
                    _record(
                        message_id,
                        fetched.raw,
                        fetched.source,
                        "unparseable",
                        error=str(exc)[:2000],
                    )
                )
                await audit.append(
                    session,
                    action="message_unparseable",
                    actor="system",
                    details={
                        "sha256": digest,
                        "size": len(fetched.raw),
                        "error": type(exc).__name__,
                    },
                )
    except IntegrityError:
        pass
    log.warning("inbound %s could not be parsed; kept in quarantine", digest[:12])
    return Ingested(Outcome.QUARANTINE, "unparseable")
