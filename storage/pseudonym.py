"""Keyed pseudonyms (HMAC-SHA-256) for subjects and changed values in the audit log.

A plain hash of an e-mail address or phone number can be reversed by guessing; an HMAC with
`DSR_SECRET_KEY` cannot without the key, and erasing the key's mapping leaves nothing to undo.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


def normalise_identity(identity: str) -> str:
    """Lower-case, trim and NFC-normalise an identity so the same person maps to one pseudonym.

    `str.lower`, never `str.casefold`: casefolding maps `ß` to `ss`, so `straße@…` and
    `strasse@…` — two mailboxes, two people — would share a pseudonym.
    """
    return unicodedata.normalize("NFC", identity.strip()).lower()


def _mac(key: bytes, domain: str, value: str) -> str:
    return hmac.new(key, f"{domain}\x00{value}".encode(), hashlib.sha256).hexdigest()


def pseudonym(key: bytes, identity: str) -> str:
    """The subject pseudonym for an identity key (e-mail, username, handle): `subj_<24 hex>`."""
    return "subj_" + _mac(key, "subject", normalise_identity(identity))[:24]


def value_hash(key: bytes, value: object) -> str:
    """A keyed hash of a field value, for diffs in the audit log: `vh_<24 hex>`."""
    return "vh_" + _mac(key, "value", "" if value is None else str(value))[:24]
