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

from bot.case import store
from bot.case.data import request_data
from bot.case.lifecycle import NewRequest, open_request
from bot.errors import DsrError
from bot.work.desk import Desk
from intents.classify import classify
from intents.extract import extract
from intents.labels import LABELS, Intent
from storage.models import InboundMessage, RecordKind, reference_of

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
        done = await store.case_of_record_key(session, key)
    if done is not None:
        return StaffCase(reference_of(done), False, tuple(chosen))
    result = await asyncio.to_thread(classify, desk.classifier(), text)
    found = await asyncio.to_thread(extract, text, result.language)
    request = NewRequest(
        channel="staff",
        actor=actor,
        requester=requester,
        result=result,
        data=request_data(
            requester, found, text=text, subject_line="staff intake", staff_intake=True
        ).with_(cited=result.cited),
        chosen=[Intent(i) for i in chosen],
        details={"chosen_by_staff": bool(chosen), "source": "slack"},
    )
    labels = tuple(str(i) for i in request.intents)
    raw = text.encode()
    record = InboundMessage(
        message_id=key,
        channel="slack",
        source=source[:200],
        kind=RecordKind.STAFF,
        sender_pseudonym=actor[:64],
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        raw=raw,
    )
    try:
        async with desk.sessions() as session, session.begin():
            await store.add_record(session, record)  # the key is claimed before the case exists
            case = await open_request(session, request)
            await store.link_record(session, record.id, case.id)
    except IntegrityError:  # the same message, delivered twice at once: the other one won
        async with desk.sessions() as session:
            won = await store.case_of_record_key(session, key)
        return StaffCase(reference_of(won), False, labels)
    return StaffCase(case.reference, True, labels)


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
