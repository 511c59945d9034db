"""Staff intake: a case opened in Slack on a customer's behalf (phone call, letter).

The case is like one from e-mail: identifiers from the customer's address and the text, so the
pipeline finds the subject and sends the challenge to the address on file, never elsewhere.
One Slack message (or modal submission) opens at most one case, however often Slack retries.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.case.policy import is_about_processor_data
from bot.case.store import open_case
from bot.errors import DsrError
from bot.work.desk import Desk
from intents.classify import Classification, classify
from intents.extract import extract
from intents.labels import LABELS
from storage.models import InboundMessage, reference_of, utcnow

EMAIL_HINT = "type the customer's e-mail address, e.g. `jane@example.com asks to delete her data`"


class StaffIntakeError(DsrError, ValueError):
    """Staff asked for a case that cannot be opened as given (no or bad address, bad intents)."""


@dataclass(frozen=True)
class StaffCase:
    """The result of staff intake."""

    ref: str
    created: bool  # False: this source had opened the case already (a retry)
    intents: tuple[str, ...]


def customer_address(address: str | None, text: str) -> str:
    """The customer's address: the given one, else the first in the text.

    Raises:
        StaffIntakeError: none given, or not a valid address.
    """
    candidate = (address or "").strip() or next(iter(extract(text).emails), "")
    if not candidate:
        raise StaffIntakeError(f"no customer e-mail address found; {EMAIL_HINT}")
    try:
        return validate_email(
            candidate, check_deliverability=False, globally_deliverable=False
        ).normalized.lower()
    except EmailNotValidError:
        raise StaffIntakeError(f"that is not a valid e-mail address; {EMAIL_HINT}") from None


async def open_staff_case(
    desk: Desk,
    *,
    actor: str,
    source: str,
    text: str,
    address: str | None = None,
    intents: Sequence[str] = (),
) -> StaffCase:
    """Open (once per `source`) a case for the customer; the pipeline routes it.

    Args:
        actor: `slack:<user id>` of the staff member.
        source: unique id of the Slack message or submission (retries give the same one).
        text: what the customer asked, in staff's words (classified when `intents` is empty).
        address: the customer's address; when None, the first address in `text`.
        intents: labels staff chose, overriding the classifier.

    Raises:
        StaffIntakeError: no valid address, or an unknown intent.
    """
    requester = customer_address(address, text)
    chosen = [i for i in dict.fromkeys(intents) if i]
    if any(i not in LABELS for i in chosen):
        raise StaffIntakeError(f"intents must be some of {', '.join(LABELS)}")
    key = f"<staff.{hashlib.sha256(source.encode()).hexdigest()[:40]}@slack.dsr.invalid>"
    async with desk.sessions() as session:
        stmt = select(InboundMessage.case_id).where(InboundMessage.message_id == key)
        done = (await session.exec(stmt)).first()
    if done is not None:
        return StaffCase(reference_of(done), False, tuple(chosen))
    result = await asyncio.to_thread(classify, desk.model, text)
    labels = chosen or [str(i) for i in result.intents] or [str(result.intent)]
    try:
        return await _open(desk, actor, key, source, text, requester, chosen, result)
    except IntegrityError:  # the same message, delivered twice at once: the other one won
        async with desk.sessions() as session:
            stmt = select(InboundMessage.case_id).where(InboundMessage.message_id == key)
            won = (await session.exec(stmt)).first()
        return StaffCase(reference_of(won), False, tuple(labels))


async def _open(
    desk: Desk,
    actor: str,
    key: str,
    source: str,
    text: str,
    requester: str,
    chosen: list[str],
    result: Classification,
) -> StaffCase:
    found = await asyncio.to_thread(extract, text, result.language)
    labels = chosen or [str(i) for i in result.intents] or [str(result.intent)]
    identifiers = list(dict.fromkeys([requester, *found.emails, *found.handles]))[:10]
    raw = text.encode()
    async with desk.sessions() as session, session.begin():
        inbound = InboundMessage(
            message_id=key,
            channel="slack",
            source=source[:200],
            kind="staff",
            sender_pseudonym=actor[:64],
            size=len(raw),
            sha256=hashlib.sha256(raw).hexdigest(),
            raw=raw,
        )
        session.add(inbound)
        await session.flush()  # the unique key is claimed before the case exists
        case = await open_case(
            session,
            actor=actor,
            channel="staff",
            language=result.language if result.language != "und" else None,
            requester_address=requester,
            details={"intents": labels, "chosen_by_staff": bool(chosen), "source": "slack"},
        )
        case.intents = labels
        case.scores = {k: round(float(v), 4) for k, v in result.scores.items()}
        case.confidence = None if chosen else max(result.scores.values(), default=0.0)
        case.needs_review = False if chosen else result.needs_review
        case.data = {
            "identifiers": identifiers,
            "changes": [list(c) for c in found.changes],
            "dmarc": None,
            "message_id": None,
            "references": [],
            "subject_line": "staff intake",
            "processor": is_about_processor_data(text),
            "staff_intake": True,
        }
        case.next_action_at = utcnow()
        session.add(case)
        inbound.case_id = case.id
        session.add(inbound)
    return StaffCase(case.reference, True, tuple(labels))


_SLACK_LINK = re.compile(r"<(?:mailto:)?([^<>|]+)(?:\|([^<>]*))?>")


def slack_plain(text: str) -> str:
    """A Slack message's text as typed: `<mailto:a@b|a@b>` -> `a@b`, `<https://x|label>` ->
    `label`, entities decoded (Slack formats addresses and links as it stores them)."""

    def repl(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#", "!")):
            return label or ""  # mentions and channel links are no customer data
        return label or target

    text = _SLACK_LINK.sub(repl, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
