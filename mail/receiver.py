"""A built-in SMTP receiver (aiosmtpd) on loopback that delivers into a Maildir.

Lets a newcomer mail the bot from any mail client without a mail server. It listens on a
loopback address only, so it can never become an open relay.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import mailbox
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from mail.maildir import PrivateMaildir

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 25 * 1024 * 1024


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(
        f"the built-in SMTP receiver listens on loopback only, not {host!r}; "
        "use 127.0.0.1 or ::1, or put a real MTA in front"
    )


class _MaildirHandler:
    """aiosmtpd handler: writes each accepted message into the Maildir with a Return-Path."""

    def __init__(self, box: mailbox.Maildir) -> None:
        self._box = box

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        # As a delivering MTA does (RFC 5321 §4.4): robot detection reads the null path "<>".
        sender = envelope.mail_from or ""
        sender = "".join(ch for ch in sender if ch.isprintable() and ch not in "<>\r\n")
        raw = f"Return-Path: <{sender}>\r\n".encode() + bytes(content)
        try:
            key = await asyncio.to_thread(self._box.add, raw)
        except OSError:
            log.exception("smtp receiver could not write to the maildir")
            return "451 4.3.0 Local storage problem, try again later"
        log.info("smtp receiver delivered key=%s size=%s", key, len(raw))
        return "250 2.0.0 Delivered"


class SmtpReceiver:
    """Accepts mail on `host:port` (loopback) and stores it in the Maildir at `path`.

    Args:
        path: the intake Maildir (`DSR_MAILDIR`); created when missing.
        host: a loopback address.
        port: 0 picks a free port (read `.port` after `start()`).
        max_bytes: messages above this are refused with 552 by aiosmtpd.

    Raises:
        ValueError: `host` is not a loopback address.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        _check_loopback(host)
        self.path = Path(path)
        self.host, self.port, self.max_bytes = host, port, max_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Open the listening socket; `.port` then holds the real port."""
        box = PrivateMaildir(self.path)
        handler = _MaildirHandler(box)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="dsr-bot.localhost", data_size_limit=self.max_bytes),
            self.host,
            self.port,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("smtp receiver listening on %s:%s", self.host, self.port)

    async def close(self) -> None:
        """Stop listening and wait for the socket to close."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def run(self) -> None:
        """Serve until cancelled (for the application's TaskGroup); closes on the way out."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()
