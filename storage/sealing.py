"""Encryption at rest of what the desk keeps about people, and keyed hashes for lookups.

A sealed value is AES-256-GCM under a key derived (HKDF-SHA-256) from one of the data keys,
with the key id beside it: text `v1:<kid>:<base64url(nonce + ciphertext)>`, bytes
`v1:<kid>:` + nonce + ciphertext. The column it belongs to is bound in as associated data, so a
value moved to another column, or changed by one bit, does not open (`SealError`).

The first key of the keyring seals; every key opens, so values sealed under an older key stay
readable until `dsr keys rotate` has re-sealed them. A value in clear where a sealed one belongs
is refused too (someone wrote it past the desk); only the rotation pass reads such values — the
rows written before sealing existed (migration 0008), which it seals.

Equality lookups (a Message-ID) use `lookup_hash`: HMAC-SHA-256 under a key derived from the
long-lived pseudonym key, so it does not change when the data keys rotate.

The column types (`SealedText`, `SealedJSON`, `SealedBytes`, `LookupHash`) seal on the way in and
open on the way out, so the rest of the code works with plain values. They take the keyring of
the current context (`use_keyring`, as `storage.audit.use_key`), else the process default
(`set_default_keyring`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import LargeBinary, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from storage.errors import SealError

if TYPE_CHECKING:  # `cryptography` is imported at the first seal or open, not by every command
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"
_BPREFIX = PREFIX.encode()
HASH_PREFIX = "h1:"
_NONCE = 12
_Clear = TypeVar("_Clear", str, bytes)
_DEFAULT_INFO = b"dsr-bot data seal (default)"


def _derive(secret: bytes, info: bytes) -> bytes:
    """HKDF-SHA-256 (RFC 5869) of 32 bytes, no salt: the same bytes as `cryptography`'s HKDF,
    with the standard library, so deriving keys imports nothing."""
    prk = hmac.new(bytes(32), secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


@dataclass(frozen=True)
class DataKey:
    """One sealing key and its id (8 hex digits, derived from the key, so it never needs
    to be written down)."""

    kid: str
    material: bytes = field(repr=False, compare=False)

    @classmethod
    def from_secret(cls, secret: str, *, info: bytes = b"dsr-bot data seal") -> DataKey:
        """The key derived from a configured secret (`DSR_DATA_KEY`, or DSR_SECRET_KEY)."""
        material = _derive(secret.encode(), info)
        kid = hashlib.sha256(b"dsr-bot key id|" + material).hexdigest()[:8]
        return cls(kid=kid, material=material)

    @cached_property
    def aead(self) -> AESGCM:
        """AES-256-GCM under this key (built at first use)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(self.material)


class Keyring:
    """The data keys (newest first) and the lookup key.

    Args:
        keys: the first seals, all open.
        lookup_key: keys `lookup_hash`; None when only sealing is needed.
    """

    def __init__(self, keys: Sequence[DataKey], lookup_key: bytes | None) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one data key")
        self.keys = tuple(keys)
        self._by_kid = {k.kid: k for k in keys}
        self._lookup_key = lookup_key

    @classmethod
    def from_secrets(cls, data_keys: Sequence[str], pseudonym_key: bytes | None) -> Keyring:
        """A keyring from the `DSR_DATA_KEY` secrets (newest first); the key derived from
        DSR_SECRET_KEY seals when none is given (the embedded default) and otherwise still
        opens, last, what was sealed before DSR_DATA_KEY was set. Lookups are keyed from
        DSR_SECRET_KEY."""
        keys = [DataKey.from_secret(s) for s in data_keys]
        if pseudonym_key is not None:
            keys.append(DataKey.from_secret(pseudonym_key.decode(), info=_DEFAULT_INFO))
        if not keys:
            raise ValueError("no data key: set DSR_DATA_KEY or DSR_SECRET_KEY")
        lookup = _derive(pseudonym_key, b"dsr-bot lookup") if pseudonym_key is not None else None
        return cls(keys, lookup)

    def with_older(self, older: Keyring) -> Keyring:
        """This keyring, also opening what `older` sealed (its keys after ours)."""
        extra = [k for k in older.keys if k.kid not in self._by_kid]
        return Keyring([*self.keys, *extra], self._lookup_key)

    @property
    def newest(self) -> str:
        """The key id new values are sealed under."""
        return self.keys[0].kid

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id this keyring opens, newest first."""
        return tuple(k.kid for k in self.keys)

    # -- sealing ------------------------------------------------------------------------------

    def seal_bytes(self, data: bytes, where: str) -> bytes:
        """`data` sealed under the newest key for column `where` (`table.column`)."""
        key = self.keys[0]
        nonce = os.urandom(_NONCE)
        return b"%s%s:%s%s" % (
            _BPREFIX,
            key.kid.encode(),
            nonce,
            key.aead.encrypt(nonce, data, _aad(where)),
        )

    def open_bytes(self, sealed: bytes, where: str, *, legacy: bool = False) -> bytes:
        """The clear bytes of a sealed value.

        Args:
            legacy: return a value that is no envelope as it is (the rotation pass, sealing
                rows from before migration 0008).

        Raises:
            SealError: unknown key id, the value was changed (authentication failed), or it is
                in clear.
        """
        if not sealed.startswith(_BPREFIX):
            return _clear(sealed, where, legacy)
        kid, body = sealed[3:11].decode("ascii", "replace"), sealed[12:]
        key = self._key(kid, where)
        from cryptography.exceptions import InvalidTag

        try:
            return key.aead.decrypt(body[:_NONCE], body[_NONCE:], _aad(where))
        except InvalidTag:
            raise SealError(where, "failed its integrity check (changed or damaged)") from None

    def seal_text(self, text: str, where: str) -> str:
        """`text` sealed, as text (`v1:<kid>:<base64url>`)."""
        key = self.keys[0]
        nonce = os.urandom(_NONCE)
        body = nonce + key.aead.encrypt(nonce, text.encode(), _aad(where))
        return f"{PREFIX}{key.kid}:{base64.urlsafe_b64encode(body).decode()}"

    def open_text(self, sealed: str, where: str, *, legacy: bool = False) -> str:
        """The clear text of a sealed text value (`legacy` as for `open_bytes`).

        Raises:
            SealError: as `open_bytes`.
        """
        if not sealed.startswith(PREFIX):
            return _clear(sealed, where, legacy)
        kid, _, b64 = sealed[3:].partition(":")
        key = self._key(kid, where)
        from cryptography.exceptions import InvalidTag

        try:
            body = base64.urlsafe_b64decode(b64)
            return key.aead.decrypt(body[:_NONCE], body[_NONCE:], _aad(where)).decode()
        except (InvalidTag, ValueError):
            raise SealError(where, "failed its integrity check (changed or damaged)") from None

    def _key(self, kid: str, where: str) -> DataKey:
        key = self._by_kid.get(kid)
        if key is None:
            raise SealError(
                where,
                f"is sealed under key {kid!r}, which is not among the configured data keys "
                f"({', '.join(self.kids)}); put the old key back at the end of DSR_DATA_KEY",
            )
        return key

    # -- lookups ------------------------------------------------------------------------------

    def lookup_hash(self, value: str) -> str:
        """The keyed hash an equality lookup compares (`h1:<hex>`); idempotent on a hash.

        Raises:
            SealError: no lookup key (DSR_SECRET_KEY is not set).
        """
        if value.startswith(HASH_PREFIX):
            return value
        if self._lookup_key is None:
            raise SealError("lookup", "needs DSR_SECRET_KEY, which is not set")
        digest = hmac.new(self._lookup_key, value.encode(), hashlib.sha256).hexdigest()
        return HASH_PREFIX + digest


def _clear(value: _Clear, where: str, legacy: bool) -> _Clear:
    if legacy:
        return value
    raise SealError(
        where,
        "is in clear where a sealed value belongs (written past the desk, or before migration "
        "0008 and not sealed yet: run `dsr keys rotate`)",
    )


def _aad(where: str) -> bytes:
    return b"dsr-bot seal|" + where.encode()


def kid_of(stored: str | bytes | None) -> str | None:
    """The key id of a stored value; None for a value that is not sealed (or is None)."""
    if isinstance(stored, str) and stored.startswith(PREFIX):
        return stored[3:11]
    if isinstance(stored, bytes) and stored.startswith(_BPREFIX):
        return stored[3:11].decode("ascii", "replace")
    return None


# -- the keyring of the context -------------------------------------------------------------

_KEYRING: ContextVar[Keyring | None] = ContextVar("dsr_keyring", default=None)
_default: list[Keyring | None] = [None]


def use_keyring(keyring: Keyring | None) -> Token[Keyring | None]:
    """Seal and open with `keyring` in this context (and the tasks it starts)."""
    return _KEYRING.set(keyring)


def reset_keyring(token: Token[Keyring | None]) -> None:
    """Undo a `use_keyring`."""
    _KEYRING.reset(token)


def set_default_keyring(keyring: Keyring | None) -> None:
    """The keyring of contexts that set none (threads with their own loops, tests)."""
    _default[0] = keyring


def current_keyring() -> Keyring:
    """The keyring in force.

    Raises:
        SealError: none was set (neither DSR_DATA_KEY nor DSR_SECRET_KEY).
    """
    keyring = _KEYRING.get() or _default[0]
    if keyring is None:
        raise SealError(
            "case store",
            "is sealed and no data key is set; set DSR_SECRET_KEY (and DSR_DATA_KEY, if used)",
        )
    return keyring


# -- column types ---------------------------------------------------------------------------


class SealedText(TypeDecorator[str]):
    """A text column stored sealed; `where` (`table.column`) is bound into the seal."""

    impl = Text
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current_keyring().seal_text(value, self.where)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> str | None:
        return None if value is None else current_keyring().open_text(str(value), self.where)


class SealedJSON(TypeDecorator[Any]):
    """A JSON value stored sealed (as text: the database cannot look inside it)."""

    impl = Text
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def process_bind_param(self, value: Any | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return current_keyring().seal_text(text, self.where)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):  # a JSON column handed back a parsed value: clear
            value = json.dumps(value)
        return json.loads(current_keyring().open_text(value, self.where))


class SealedBytes(TypeDecorator[bytes]):
    """A binary column stored sealed (raw mails)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else current_keyring().seal_bytes(bytes(value), self.where)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> bytes | None:
        return None if value is None else current_keyring().open_bytes(bytes(value), self.where)


class LookupHash(TypeDecorator[str]):
    """A column holding only the keyed hash of its value: equality (`==`, `IN`, unique) works
    on it, and reading gives the hash back, never the value."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else current_keyring().lookup_hash(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)


def lookup_hash(value: str) -> str:
    """The keyed hash of `value` under the keyring in force (see `Keyring.lookup_hash`)."""
    return current_keyring().lookup_hash(value)


__all__ = [
    "DataKey",
    "Keyring",
    "LookupHash",
    "SealedBytes",
    "SealedJSON",
    "SealedText",
    "current_keyring",
    "kid_of",
    "lookup_hash",
    "reset_keyring",
    "set_default_keyring",
    "use_keyring",
]
