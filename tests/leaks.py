"""Looking for customers' values where they must not be: a value in clear, and the forms a
mail or a database would give it (base64 at each of its three alignments, quoted-printable,
JSON escapes, hex as `pg_dump` writes bytea, lower case). Shared by every "nothing in clear"
test (the case store, var/ files, logs)."""

from __future__ import annotations

import base64
import binascii
import json
import quopri
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.servers.postgres import PostgresServer

#: Forms shorter than this would match by chance.
MIN_FORM = 6


def forms(value: str) -> set[bytes]:
    """Every byte string `value` could be stored or sent as."""
    raw = value.encode()
    found = {raw, value.lower().encode(), quopri.encodestring(raw).rstrip(b"\n")}
    found.add(json.dumps(value)[1:-1].encode())  # \u00e4 for non-ASCII
    found.add(binascii.hexlify(raw))  # bytea in a pg_dump
    for shift in range(3):
        # base64 of the value inside a longer text: drop the groups the neighbours share
        encoded = base64.b64encode(bytes(shift) + raw)
        start = 4 if shift else 0
        end = ((shift + len(raw)) // 3) * 4
        found.add(encoded[start:end])
        found.add(base64.urlsafe_b64encode(bytes(shift) + raw)[start:end])
    return {f for f in found if len(f) >= MIN_FORM}


def needles(values: Iterable[str]) -> dict[bytes, str]:
    """Form -> the value it stands for, for every value."""
    return {form: value for value in values for form in forms(value)}


def leaks(blob: bytes, found: Mapping[bytes, str]) -> list[str]:
    """The values of which some form occurs in `blob` (sorted, each once)."""
    return sorted({value for form, value in found.items() if form in blob})


def sqlite_files(url: str) -> bytes:
    """The bytes of a SQLite database with its WAL and shared-memory files."""
    database = make_url(url).database
    assert database
    path = Path(database)
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def pg_dump(server: PostgresServer, url: str) -> bytes:
    """A plain-SQL `pg_dump` of the database at `url` (the server's own binaries)."""
    database = make_url(url).database
    assert database
    dump = server.bindir / "pg_dump"
    out = subprocess.run(
        [
            str(dump) if dump.exists() else "pg_dump",
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "-d",
            database,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out.stdout


def store_bytes(url: str, server: PostgresServer | None) -> bytes:
    """What an attacker with the database gets: the SQLite files, or a PostgreSQL dump."""
    if make_url(url).get_backend_name() == "sqlite":
        return sqlite_files(url)
    assert server is not None
    return pg_dump(server, url)
