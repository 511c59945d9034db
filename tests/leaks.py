"""Needles for leak scans: a customer's values and the shapes they take in files, mails and logs
(plain UTF-8, JSON- and HTML-escaped, base64 at each alignment, quoted-printable), and a search.

Pure: `needles(values)` builds the byte strings, `find_leaks(blob, needles)` says which occur.
"""

from __future__ import annotations

import base64
import html
import json
import quopri
from collections.abc import Iterable, Sequence

#: Shorter values (a two-letter country, a postal code) occur by chance; they are not searched.
MIN_LENGTH = 6


def _base64_forms(raw: bytes) -> list[bytes]:
    """The value's base64 inside any longer base64 text: encoded at each of the three offsets,
    minus the characters that depend on the neighbouring bytes."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        start = (shift * 4 + 2) // 3 if shift else 0  # skip characters mixed with the padding
        body = encoded.rstrip(b"=")
        if (shift + len(raw)) % 3:
            body = body[:-1]  # the last character mixes with the byte that follows
        if len(body) - start >= MIN_LENGTH:
            forms.append(body[start:])
    return forms


def needles(values: Iterable[str]) -> list[bytes]:
    """The byte forms to look for, for each value (and for each phone number, its digits)."""
    found: list[bytes] = []
    for value in values:
        variants = {value}
        digits = "".join(ch for ch in value if ch.isdigit())
        if value.lstrip().startswith("+") and len(digits) >= 8:
            variants |= {"+" + digits, digits}
        for text in variants:
            if len(text) < MIN_LENGTH:
                continue
            raw = text.encode()
            forms = {
                raw,
                json.dumps(text)[1:-1].encode(),
                html.escape(text).encode(),
                quopri.encodestring(raw).rstrip(b"=\n"),
                quopri.encodestring(raw, header=True).rstrip(b"=\n"),
                *_base64_forms(raw),
            }
            found += [f for f in forms if len(f) >= MIN_LENGTH and f not in found]
    return found


def find_leaks(blob: bytes, needles: Sequence[bytes]) -> list[bytes]:
    """The needles that occur in `blob` (case-insensitively for all but base64)."""
    lower = blob.lower()
    hits = []
    for needle in needles:
        if needle in blob or (not _is_base64(needle) and needle.lower() in lower):
            hits.append(needle)
    return hits


def _is_base64(needle: bytes) -> bool:
    return needle.isalnum() and not needle.isalpha() and not needle.isdigit()
