"""An in-loop aiosmtpd server on a free loopback port that records what it receives.

Modes: refuse the first N messages with a 4xx (or 5xx) reply, then accept; optional STARTTLS
with a trustme CA and required AUTH. Runs in the test's own event loop, no thread.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope and the bytes as they arrived."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        """The message as the stdlib reads it (policy.default)."""
        msg = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class RecordingHandler:
    """aiosmtpd handler: refuses the first `refuse_first` messages with `refusal`, then records."""

    refuse_first: int = 0
    refusal: str = "451 4.3.0 Temporary failure, try again later"
    received: list[Received] = field(default_factory=list)
    refused: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refused < self.refuse_first:
            self.refused += 1
            return self.refusal
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        self.received.append(
            Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(content))
        )
        self.arrived.set()
        return "250 2.0.0 OK"

    async def wait_count(self, n: int) -> None:
        """Wait until `n` messages were accepted (wrap in `asyncio.timeout`)."""
        while len(self.received) < n:
            self.arrived.clear()
            await self.arrived.wait()


@dataclass
class SmtpServer:
    """A running in-loop SMTP server."""

    host: str
    port: int
    handler: RecordingHandler
    server: asyncio.Server
    ca: trustme.CA | None = None
    credentials: tuple[str, str] | None = None

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's test CA."""
        assert self.ca is not None, "server was started without tls"
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


def _authenticator(user: str, password: str) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        # handled=False makes aiosmtpd send the 535; handled=True would leave the client hanging
        return AuthResult(success=ok, handled=False)

    return check


async def start_smtp(
    *,
    refuse_first: int = 0,
    refusal: str = "451 4.3.0 Temporary failure, try again later",
    starttls: bool = False,
    credentials: tuple[str, str] | None = None,
) -> SmtpServer:
    """Start an SMTP server on 127.0.0.1, port 0, in the running loop.

    Args:
        refuse_first: how many messages to refuse at DATA before accepting.
        refusal: the reply used for refusals (a 4xx is transient, a 5xx permanent).
        starttls: offer and require STARTTLS with a fresh trustme CA.
        credentials: (user, password) required by AUTH (needs starttls).
    """
    handler = RecordingHandler(refuse_first=refuse_first, refusal=refusal)
    ca: trustme.CA | None = None
    kwargs: dict[str, Any] = {}
    if starttls:
        ca = trustme.CA()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    if credentials:
        kwargs.update(authenticator=_authenticator(*credentials), auth_required=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="localhost", **kwargs), "127.0.0.1", 0
    )
    port = int(server.sockets[0].getsockname()[1])
    return SmtpServer("127.0.0.1", port, handler, server, ca, credentials)
