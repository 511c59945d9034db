"""Tolerant header readers: decoded text, message-id lists and Authentication-Results (pure).

Every function here accepts whatever arrived on the wire and never raises; a header that cannot
be decoded is read as raw text instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parseaddr

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_RESINFO = re.compile(r"^\s*(dmarc|dkim|spf)\s*=\s*([A-Za-z]+)", re.IGNORECASE)


def one_line(value: str) -> str:
    """Collapse control characters (CR, LF, NUL, ...) and runs of blanks into single spaces."""
    return " ".join(_CONTROL.sub(" ", value).split())


class HeaderIndex:
    """The raw header values of one message by lower-case name, built once (lookups are many)."""

    def __init__(self, msg: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for key, value in msg.raw_items():
            text = _undo_surrogates(value if isinstance(value, str) else str(value))
            self._values.setdefault(str(key).lower(), []).append(text)

    def values(self, name: str) -> list[str]:
        """The undecoded values of every header `name`, in message order."""
        return self._values.get(name.lower(), [])


def _undo_surrogates(value: str) -> str:
    """Raw 8-bit header bytes (RFC 6532 UTF-8, or legacy Latin-1) to text.

    The bytes parser keeps undecodable bytes as surrogate escapes; turn them back into text.
    """
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _decode(raw: str) -> str:
    """Decode RFC 2047 encoded words; fall back to the raw text when they are broken."""
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except Exception:  # any broken encoded word: keep the raw text
        return raw


def header_raw(headers: HeaderIndex, name: str) -> str | None:
    """The first header `name` unfolded but not decoded (for address parsing), or None."""
    values = headers.values(name)
    return one_line(values[0]) if values else None


def all_header_raw(headers: HeaderIndex, name: str) -> list[str]:
    """Every header `name` unfolded but not decoded, top first."""
    return [one_line(v) for v in headers.values(name)]


def header_text(headers: HeaderIndex, name: str) -> str | None:
    """The first header `name`, decoded and on one line, or None when absent."""
    values = headers.values(name)
    if not values:
        return None
    return one_line(_decode(values[0]))


def all_header_texts(headers: HeaderIndex, name: str) -> list[str]:
    """Every header `name`, decoded and on one line, in message order (top first)."""
    return [one_line(_decode(v)) for v in headers.values(name)]


def message_ids(value: str | None) -> tuple[str, ...]:
    """The `<id>` tokens of a Message-ID, In-Reply-To or References value, in order, deduplicated.

    A bare id without angle brackets (seen from broken clients) is wrapped in them.
    """
    if not value:
        return ()
    found = _MSG_ID.findall(value)
    if not found:
        bare = value.strip().split()
        found = [f"<{bare[0]}>"] if bare and "@" in bare[0] and "<" not in bare[0] else []
    return tuple(dict.fromkeys(found))


def address(raw: str | None) -> tuple[str | None, str | None]:
    """(display name, addr-spec) of a raw From/Reply-To/Return-Path value.

    The address is split before encoded words are decoded, so a display name that decodes to
    "x <evil@example>" or carries CR/LF cannot change the address. Either part may be None.
    """
    if not raw:
        return None, None
    try:
        name, addr = parseaddr(raw)
    except Exception:  # a mangled address yields nothing, not an error
        return None, None
    addr = one_line(addr).strip("<>") if addr else ""
    if "@" not in addr or " " in addr:
        addr = ""
    return (one_line(_decode(name)) if name else None) or None, addr or None


def addresses(values: list[str]) -> tuple[str, ...]:
    """Every addr-spec in a list of To/Cc values (display names dropped)."""
    try:
        pairs = getaddresses(values)
    except Exception:  # a mangled list yields no addresses, not an error
        return ()
    return tuple(one_line(a) for _, a in pairs if a and "@" in a)


@dataclass(frozen=True, slots=True)
class AuthVerdicts:
    """DMARC/DKIM/SPF results from a trusted Authentication-Results header (lower case)."""

    dmarc: str | None
    dkim: str | None
    spf: str | None


def auth_verdicts(values: list[str], trusted_authserv_id: str | None) -> AuthVerdicts | None:
    """Read RFC 8601 Authentication-Results, trusting only our own authserv-id.

    Only the topmost header whose authserv-id equals `trusted_authserv_id` counts: headers
    below it were added before the message reached our border and may be forged.

    Args:
        values: the decoded header values, top first.
        trusted_authserv_id: the id our receiving MTA stamps; None trusts nothing.

    Returns:
        The verdicts, or None when no trusted header is present.
    """
    if not trusted_authserv_id:
        return None
    for value in values:
        parts = _COMMENT.sub(" ", value).split(";")
        head = parts[0].split()
        if not head or head[0].lower() != trusted_authserv_id.lower():
            continue
        found: dict[str, str] = {}
        for part in parts[1:]:
            m = _RESINFO.match(part)
            if not m:
                continue
            method, result = m.group(1).lower(), m.group(2).lower()
            # Several DKIM signatures: one that passes is enough (DMARC alignment decides).
            if method not in found or (method == "dkim" and result == "pass"):
                found[method] = result
        return AuthVerdicts(found.get("dmarc"), found.get("dkim"), found.get("spf"))
    return None
