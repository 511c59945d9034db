"""A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl into a temp dir.

Runs as the `postgres` OS user when we are root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path


class ServerUnavailable(RuntimeError):
    """The server binary is not installed on this machine."""


def find_pg_bin() -> Path | None:
    """Locate PostgreSQL's bin directory (Debian keeps it out of PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One running cluster; `create_database()` hands out fresh, isolated databases."""

    bindir: Path
    root: Path
    port: int
    _as_user: list[str] = field(default_factory=list)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            "start",
        )

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def admin_url(self, dbname: str = "postgres", driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL through psql (used to create databases and by benchmarks)."""
        psql = self.bindir / "psql"
        exe = str(psql) if psql.exists() else "psql"
        out = subprocess.run(
            [
                exe,
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                dbname,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return out.stdout

    def create_database(self, prefix: str = "t") -> str:
        """Create an empty database and return its asyncpg URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.admin_url(name)


def start_postgres() -> PostgresServer:
    """initdb a fresh cluster in a temp dir and start it on a free loopback port.

    Raises:
        ServerUnavailable: PostgreSQL is not installed.
    """
    bindir = find_pg_bin()
    if bindir is None:
        raise ServerUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian package "
            "'postgresql' (the README's test command does this when run as root)"
        )
    root = Path(tempfile.mkdtemp(prefix="dsr-pg-"))
    os.chmod(root, 0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    server = PostgresServer(bindir=bindir, root=root, port=free_port(), _as_user=as_user)
    server._run(
        str(bindir / "initdb"),
        "-D",
        str(server.datadir),
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
    )
    server.start()
    return server


def destroy(server: PostgresServer) -> None:
    """Stop the cluster and remove its directory."""
    try:
        server.stop()
    finally:
        shutil.rmtree(server.root, ignore_errors=True)
