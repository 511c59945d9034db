"""Readers for IMAP responses as aioimaplib returns them (pure): SELECT codes, SEARCH, FETCH.

aioimaplib hands back a list of lines (bytes) with each literal as its own bytearray line;
these functions turn that into numbers and (uid, flags, size, body) records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]", re.I)
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]", re.I)
_FETCH_START = re.compile(rb"^\d+ FETCH \(", re.I)
_UID = re.compile(rb"\bUID (\d+)", re.I)
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)", re.I)
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)", re.I)
_LITERAL = re.compile(rb"\{(\d+)\}$")


@dataclass(frozen=True, slots=True)
class FetchItem:
    """One message of a FETCH response."""

    uid: int
    flags: frozenset[str]
    size: int | None
    body: bytes | None


def select_codes(lines: Sequence[bytes | bytearray]) -> tuple[int, int | None]:
    """(UIDVALIDITY, UIDNEXT) from a SELECT response.

    Raises:
        ValueError: the server sent no UIDVALIDITY (RFC 3501 requires it).
    """
    validity: int | None = None
    uidnext: int | None = None
    for line in lines:
        if m := _UIDVALIDITY.search(bytes(line)):
            validity = int(m.group(1))
        if m := _UIDNEXT.search(bytes(line)):
            uidnext = int(m.group(1))
    if validity is None:
        raise ValueError("SELECT response carried no UIDVALIDITY; the server is not RFC 3501")
    return validity, uidnext


def search_uids(lines: Sequence[bytes | bytearray]) -> list[int]:
    """The UIDs of a UID SEARCH response, ascending.

    Only data lines count: an untagged update the server sends with the response ("5 EXISTS",
    "1 RECENT") carries a message count, not a UID.
    """
    uids: list[int] = []
    for line in lines[:-1] if len(lines) > 1 else lines:
        tokens = bytes(line).split()
        if tokens and tokens[0].upper() == b"SEARCH":
            tokens = tokens[1:]
        if tokens and all(tok.isdigit() for tok in tokens):
            uids.extend(int(tok) for tok in tokens)
    return sorted(set(uids))


def mailbox_grew(lines: Sequence[bytes | bytearray]) -> bool:
    """Whether a response carries an untagged EXISTS: a message arrived while the command ran
    (the server announces it once; an IDLE started after it would wait for the next one)."""
    return any(bytes(line).split()[-1:] == [b"EXISTS"] for line in lines)


def fetch_items(lines: Sequence[bytes | bytearray]) -> list[FetchItem]:
    """The messages of a FETCH response, in server order.

    Handles the body literal before or after the UID/FLAGS items (servers differ).
    """
    items: list[FetchItem] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if isinstance(line, bytearray) or not _FETCH_START.match(line):
            i += 1
            continue
        meta = bytes(line)
        body: bytes | None = None
        if _LITERAL.search(meta) and i + 1 < len(lines) and isinstance(lines[i + 1], bytearray):
            body = bytes(lines[i + 1])
            i += 2
            if i < len(lines) and not isinstance(lines[i], bytearray):
                meta += b" " + bytes(lines[i])  # the tail after the literal, e.g. "UID 5)"
                i += 1
        else:
            i += 1
        uid = _UID.search(meta)
        if uid is None:
            continue
        flags = _FLAGS.search(meta)
        size = _SIZE.search(meta)
        items.append(
            FetchItem(
                uid=int(uid.group(1)),
                flags=frozenset(flags.group(1).decode("ascii", "replace").split())
                if flags
                else frozenset(),
                size=int(size.group(1)) if size else None,
                body=body,
            )
        )
    return items


def uid_set(uids: Iterable[int]) -> str:
    """A compact IMAP sequence set: 1,2,3,7 -> "1:3,7"."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(parts)
