"""The reflected customer-store schema, kept between processes.

Reflecting a company's tables costs a `dsr store` command several catalog queries and most of
a tenth of a second of Python. A process that finds the tables as they were when it last looked
reuses that reflection instead: one cheap catalog query gives a fingerprint of the mapped
tables (columns, types, nullability, keys; on SQLite their CREATE statements), and the file is
named after it, so any change to those tables means a new reflection.

The file is a pickle signed with a key derived from DSR_SECRET_KEY: a file that anybody but the
desk wrote, or that was cut short, fails the signature and is ignored (then reflected again and
rewritten), so a writable cache directory never makes the desk run someone else's code. Files
are written 0600 in a 0700 directory, atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import MetaData, bindparam, text
from sqlalchemy.engine import Connection

#: Bump when what is pickled changes shape; SQLAlchemy's version is part of the key as well.
_FORMAT = b"dsr-schema-cache 1"
_SIG = hashlib.sha256().digest_size

_PG_FINGERPRINT = text(
    """
    SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
      SELECT concat_ws(':', c.relname, a.attnum, a.attname, a.atttypid, a.atttypmod,
                       a.attnotnull, a.atthasdef) AS item
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
       WHERE c.relnamespace = to_regnamespace(current_schema())
         AND c.relname = ANY(:names) AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL
      SELECT concat_ws(':', c.relname, k.conname, k.contype, k.conkey, k.confrelid::regclass,
                       k.confkey)
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid
       WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relname = ANY(:names)
      UNION ALL
      SELECT concat_ws(':', 'table', c.relname, c.relkind)
        FROM pg_class c
       WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relname = ANY(:names)
    ) AS catalog
    """
)


_SQLITE_SCHEMA = text(
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE tbl_name IN :names "
    "ORDER BY type, name"
).bindparams(bindparam("names", expanding=True))


@dataclass(frozen=True)
class SchemaCache:
    """Where reflected schemas are kept, and the key that signs them."""

    directory: Path
    key: bytes

    @classmethod
    def keyed(cls, directory: Path, secret: bytes) -> SchemaCache:
        """A cache in `directory` signed with a key derived from the desk's secret."""
        return cls(directory, hmac.new(secret, b"dsr-bot schema cache", hashlib.sha256).digest())

    def _path(self, url: str, names: list[str], fingerprint: str) -> Path:
        import sqlalchemy

        ident = "\x00".join([url, *sorted(names), fingerprint, sqlalchemy.__version__])
        digest = hmac.new(self.key, _FORMAT + ident.encode(), hashlib.sha256).hexdigest()
        return self.directory / f"customer-schema-{digest[:32]}.pickle"

    def _sign(self, blob: bytes) -> bytes:
        return hmac.new(self.key, _FORMAT + blob, hashlib.sha256).digest()

    def load(self, url: str, names: list[str], fingerprint: str) -> MetaData | None:
        """The metadata kept for this fingerprint, or None (none kept, or not ours)."""
        try:
            data = self._path(url, names, fingerprint).read_bytes()
        except OSError:
            return None
        sig, blob = data[:_SIG], data[_SIG:]
        if len(sig) != _SIG or not hmac.compare_digest(sig, self._sign(blob)):
            return None
        try:
            metadata = pickle.loads(blob)  # noqa: S301 - signed by us, checked just above
        except Exception:  # a file from another SQLAlchemy that slipped through: reflect again
            return None
        return metadata if isinstance(metadata, MetaData) else None

    def save(self, url: str, names: list[str], fingerprint: str, metadata: MetaData) -> None:
        """Keep `metadata` for this fingerprint; a cache that cannot be written is no error."""
        blob = pickle.dumps(metadata, protocol=pickle.HIGHEST_PROTOCOL)
        path = self._path(url, names, fingerprint)
        part = path.with_name(f"{path.name}.{os.getpid()}.part")
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._sign(blob) + blob)
            os.replace(part, path)
        except OSError:
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)


def fingerprint(conn: Connection, names: list[str]) -> str | None:
    """A digest that changes whenever one of the tables `names` changes, or None when this
    database offers no cheap way to tell (then every process reflects)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return str(conn.execute(_PG_FINGERPRINT, {"names": names}).scalar_one())
    if dialect == "sqlite":
        rows = conn.execute(_SQLITE_SCHEMA, {"names": names}).all()
        return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
    return None


__all__ = ["SchemaCache", "fingerprint"]
