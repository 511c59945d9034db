"""Which of our cases does a message answer? Our Message-IDs and the `[DSR-n]` tag (pure).

Our Message-IDs look like `<DSR-{case}.{outbox}.{random}@{own_domain}>`; a reply carries them
in In-Reply-To/References. The subject tag is a weaker signal: anyone can type it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Literal, Protocol

_OUR_ID = re.compile(r"^<DSR-(\d{1,18})\.(\d{1,18})\.([A-Za-z0-9]+)@([^<>@\s]+)>$", re.I)
_TAG = re.compile(r"\[DSR-(\d{1,18})\]", re.I)


class ThreadView(Protocol):
    """The fields of `ParsedMessage` that threading reads."""

    @property
    def in_reply_to(self) -> tuple[str, ...]: ...
    @property
    def references(self) -> tuple[str, ...]: ...
    @property
    def subject(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OurMessageId:
    """The parts of one of our Message-IDs."""

    case_number: int
    outbox_id: int
    message_id: str


@dataclass(frozen=True, slots=True)
class CaseReference:
    """A case referenced by a message, and how: by one of our Message-IDs or by the subject tag."""

    case_number: int
    via: Literal["message_id", "subject"]
    outbox_id: int | None = None


def case_tag(case_number: int) -> str:
    """The subject tag `[DSR-n]`."""
    return f"[DSR-{case_number}]"


def make_message_id(case_number: int, outbox_id: int, domain: str) -> str:
    """A new, globally unique Message-ID for outbox row `outbox_id` of case `case_number`.

    Store it on the outbox row once, so every retry sends the same id.

    Raises:
        ValueError: a negative number or a domain that cannot stand in a Message-ID.
    """
    if case_number < 0 or outbox_id < 0:
        raise ValueError(f"case {case_number} / outbox {outbox_id}: ids must not be negative")
    if not domain or any(c in domain for c in "<>@ \t\r\n"):
        raise ValueError(f"{domain!r} is not a usable Message-ID domain; set DSR_PRIVACY_ADDRESS")
    return f"<DSR-{case_number}.{outbox_id}.{secrets.token_hex(8)}@{domain.lower()}>"


def parse_our_message_id(message_id: str, *, own_domain: str) -> OurMessageId | None:
    """The case and outbox row of one of our Message-IDs, or None if it is not ours."""
    m = _OUR_ID.match(message_id.strip())
    if not m or m.group(4).lower() != own_domain.lower():
        return None
    return OurMessageId(int(m.group(1)), int(m.group(2)), m.group(0))


def case_reference(msg: ThreadView, *, own_domain: str) -> CaseReference | None:
    """The case a message refers to, preferring our Message-IDs over the subject tag.

    In-Reply-To comes first, then References from the newest (last) to the oldest.
    """
    for mid in (*msg.in_reply_to, *reversed(msg.references)):
        ours = parse_our_message_id(mid, own_domain=own_domain)
        if ours:
            return CaseReference(ours.case_number, "message_id", ours.outbox_id)
    tag = _TAG.search(msg.subject)
    if tag:
        return CaseReference(int(tag.group(1)), "subject")
    return None


def referenced_case(msg: ThreadView, *, own_domain: str) -> int | None:
    """The case number a message answers, or None when it starts a new case."""
    ref = case_reference(msg, own_domain=own_domain)
    return ref.case_number if ref else None
