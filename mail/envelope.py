"""The first look at a raw message: its Message-ID and digest, without parsing the MIME tree.

Intake records every message under this look before anything else happens to it, so reading a
mailbox costs a header scan, not a parse; `mail.parse` does the full work later. Pure.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from mail.headers import message_ids, one_line
from mail.parse import SYNTHETIC_DOMAIN

MAX_MESSAGE_ID = 998  # RFC 5322 line limit, and the width of the record's column
_MESSAGE_ID = re.compile(rb"^message-id[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


def _header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (CRLF CRLF, or LF LF), or all of `raw`."""
    crlf = raw.find(b"\r\n\r\n")
    stop = crlf if crlf >= 0 else len(raw)
    lf = raw.find(b"\n\n", 0, stop)
    return raw[: lf if lf >= 0 else stop]


@dataclass(frozen=True, slots=True)
class FirstLook:
    """What intake knows of a message before parsing it.

    `message_id` is the first Message-ID of the header, or `<sha256@dsr.invalid>` when it has
    none (or an unusable one): `synthetic` says which. `blank` is True for a message with
    nothing but whitespace, which no parser can read.
    """

    message_id: str
    synthetic: bool
    sha256: str
    size: int
    blank: bool


def first_look(raw: bytes) -> FirstLook:
    """Scan the header block of `raw` for its Message-ID and hash the whole message."""
    digest = hashlib.sha256(raw).hexdigest()
    head = _header_block(raw)
    # A plain find locates the field in the common spelling; the regex handles every other.
    at = head.find(b"\nMessage-ID:")
    found = _MESSAGE_ID.search(head, at + 1 if at >= 0 else 0)
    ids = message_ids(one_line(found.group(1).decode("utf-8", "replace"))) if found else ()
    usable = bool(ids) and len(ids[0]) <= MAX_MESSAGE_ID
    return FirstLook(
        message_id=ids[0] if usable else f"<{digest}@{SYNTHETIC_DOMAIN}>",
        synthetic=not usable,
        sha256=digest,
        size=len(raw),
        blank=not raw.strip(),
    )
