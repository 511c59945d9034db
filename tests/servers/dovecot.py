"""A throwaway Dovecot IMAP server for tests and benchmarks, in a fresh temp dir on a free port.

A failed login makes Dovecot delay later logins from the same IP by seconds (anvil auth
penalty): tests of wrong passwords should use their own instance (`start_dovecot()`).

Runs `dovecot -F` as a direct child process (no daemon, no orphans). Users `bot` and `alice`.
As root, mail is stored as `nobody` because Dovecot refuses uid 0 for mail users.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import trustme

USERS = {"bot": "botpass", "alice": "alicepass"}


class ServerUnavailable(RuntimeError):
    """The dovecot binary is not installed on this machine."""


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _identity() -> tuple[int, int, str, str, str]:
    """(mail uid, mail gid, internal user, internal group, login user) for this process."""
    if os.geteuid() == 0:
        return 65534, 65534, "root", "root", "nobody"
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return os.geteuid(), os.getegid(), user, group, user


@dataclass
class DovecotServer:
    """One running Dovecot; `restart()` keeps the port and the mail."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))
    proc: subprocess.Popen[bytes] | None = None
    tls_port: int | None = None
    ca: trustme.CA | None = None

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's test CA (needs `tls=True`)."""
        assert self.ca is not None, "start_dovecot(tls=True) for a TLS-capable server"
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def maildir(self, user: str) -> Path:
        """The Maildir of `user` on disk (for assertions)."""
        return self.root / "mail" / user / "Maildir"

    def start(self) -> None:
        """Start Dovecot and wait until it accepts connections (about 30 ms)."""
        self.proc = subprocess.Popen(
            [shutil.which("dovecot") or "dovecot", "-F", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = (self.root / "dovecot.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"dovecot exited with {self.proc.returncode}: {log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2) as s:
                    if s.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"dovecot did not open port {self.port} within 10 s; see {self.root}")

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM, then SIGKILL after 5 s); connected clients are dropped.

        Dovecot's master leaves a busy `imap` process (e.g. one in IDLE) running as an orphan
        that keeps serving its client; a service manager would kill the whole group, so we
        end every process of this instance, as a real restart does.
        """
        if self.proc is None:
            return
        children = self._children()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reap(children)
        self.proc = None

    def kill(self) -> None:
        """Kill Dovecot and all its processes at once (SIGKILL): abrupt server loss."""
        if self.proc is not None:
            children = self._children()
            self.proc.kill()
            self.proc.wait()
            self._reap(children)
            self.proc = None

    def _children(self) -> list[psutil.Process]:
        assert self.proc is not None
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    @staticmethod
    def _reap(children: list[psutil.Process]) -> None:
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(children, timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port, keeping all mail."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop and remove the directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _write_config(root: Path, port: int, tls_port: int | None) -> None:
    uid, gid, internal_user, internal_group, login_user = _identity()
    (root / "mail").mkdir()
    for user in USERS:
        (root / "mail" / user).mkdir()
        os.chown(root / "mail" / user, uid, gid)
    os.chown(root / "mail", uid, gid)
    users = "".join(f"{u}:{{PLAIN}}{p}:{uid}:{gid}::{root}/mail/{u}\n" for u, p in USERS.items())
    (root / "users").write_text(users)
    chroots = "".join(
        f"service {s} {{\n  chroot =\n}}\n"
        for s in (
            "anvil",
            "imap-urlauth-login",
            "submission-login",
            "pop3-login",
            "managesieve-login",
        )
    )
    ssl = "ssl = no"
    if tls_port:
        ssl = f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem"
    (root / "dovecot.conf").write_text(f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
auth_failure_delay = 0
mail_location = maildir:~/Maildir
# a throwaway server: no fsync, so appends in tests and benchmarks are fast
mail_fsync = never
mail_plugins =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {root}/users
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port or 0}
  }}
}}
{chroots}""")


def start_dovecot(*, tls: bool = False) -> DovecotServer:
    """Configure and start a fresh Dovecot on a free loopback port.

    Args:
        tls: also offer STARTTLS on `port` and implicit TLS on `tls_port`, with a certificate
            for 127.0.0.1/localhost from a fresh trustme CA (`client_ssl_context()` trusts it).

    Raises:
        ServerUnavailable: the `dovecot` binary is not installed.
    """
    if shutil.which("dovecot") is None:
        raise ServerUnavailable(
            "dovecot not found; install the Debian package 'dovecot-imapd' "
            "(apt-get install -y dovecot-imapd) to run the IMAP tests"
        )
    # Not pytest's tmp_path: its 0700 parents stop the mail process (nobody) from entering.
    root = Path(tempfile.mkdtemp(prefix="dsr-dovecot-"))
    os.chmod(root, 0o755)
    port = free_port()
    ca: trustme.CA | None = None
    tls_port: int | None = None
    if tls:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.cert_chain_pems[0].write_to_path(str(root / "cert.pem"))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(root / "cert.pem"), append=True)
        cert.private_key_pem.write_to_path(str(root / "key.pem"))
        os.chmod(root / "key.pem", 0o600)
        tls_port = free_port()
    _write_config(root, port, tls_port)
    server = DovecotServer(root=root, port=port, tls_port=tls_port, ca=ca)
    server.start()
    return server


async def logout(client: Any) -> None:
    """LOGOUT an aioimaplib client and close its socket now.

    aioimaplib leaves closing to the server's EOF; a test whose event loop ends right after the
    LOGOUT would otherwise leak the socket into a later test's ResourceWarning.
    """
    try:
        await client.logout()
    finally:
        transport = client.protocol.transport
        if transport is not None:
            transport.close()
