"""Send composed mail over SMTP with aiosmtplib; map every failure to a `MailSendError`.

One connection per message: the outbox worker sends a handful of replies a minute, and a
fresh connection survives server restarts without any reconnect logic here.
"""

from __future__ import annotations

import logging
import ssl
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from mail.errors import MailSendError

log = logging.getLogger(__name__)

TlsMode = Literal["none", "starttls", "tls"]


class SmtpSender:
    """A `Sender` that delivers through an SMTP relay.

    Args:
        host, port: the relay.
        username, password: AUTH credentials, or None for no AUTH.
        tls: "none" (plain, never upgraded), "starttls" (required), or "tls" (implicit TLS).
        timeout: seconds for connect and for each command.
        tls_context: trust settings (tests pass a context trusting their CA).

    Raises:
        ValueError: an unknown `tls` mode, or credentials over an unencrypted connection.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: TlsMode = "starttls",
        timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if tls not in ("none", "starttls", "tls"):
            raise ValueError(f"DSR_SMTP_TLS={tls!r} is not one of none, starttls, tls")
        if username and tls == "none" and host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(
                f"SMTP credentials would cross the network to {host} in clear; "
                "set DSR_SMTP_TLS=starttls or tls"
            )
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self._username, self._password = username, password
        self._tls_context = tls_context

    async def send(self, msg: EmailMessage) -> None:
        """Deliver `msg` to its To/Cc/Bcc recipients.

        Raises:
            MailSendError: `.transient` is True for 4xx replies, timeouts and network errors,
                False for 5xx replies and TLS/authentication/configuration problems.
        """
        mid = str(msg.get("Message-ID", "?"))
        try:
            errors, _ = await aiosmtplib.send(
                msg,
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                tls_context=self._tls_context,
                timeout=self.timeout,
            )
        except Exception as exc:
            raise _translate(exc, mid, self.host) from exc
        if errors:
            codes = [r.code for r in errors.values()]
            transient = all(400 <= c < 500 for c in codes)
            raise MailSendError(
                f"{mid}: {len(errors)} recipient(s) refused by {self.host} (codes {codes})",
                transient=transient,
                code=codes[0],
            )
        log.info("mail sent message_id=%s via=%s:%s", mid, self.host, self.port)


def _translate(exc: Exception, mid: str, host: str) -> MailSendError:
    """Map an aiosmtplib/OS error to MailSendError, deciding whether a retry can help."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        return MailSendError(
            f"{mid}: every recipient refused by {host} (codes {codes})",
            transient=transient,
            code=codes[0] if codes else None,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        transient = 400 <= exc.code < 500
        fix = "retrying later" if transient else "check the address and the relay's settings"
        return MailSendError(
            f"{mid}: {host} answered {exc.code} {exc.message!r}; {fix}",
            transient=transient,
            code=exc.code,
        )
    if isinstance(exc, ssl.SSLError | aiosmtplib.SMTPNotSupported):
        return MailSendError(
            f"{mid}: TLS or extension problem with {host} ({type(exc).__name__}: {exc}); "
            "check DSR_SMTP_TLS and the server certificate",
            transient=False,
        )
    if isinstance(exc, OSError | TimeoutError | aiosmtplib.SMTPException):
        return MailSendError(
            f"{mid}: could not reach or talk to {host} ({type(exc).__name__}: {exc}); will retry",
            transient=True,
        )
    return MailSendError(
        f"{mid}: unexpected {type(exc).__name__} while sending via {host}: {exc}",
        transient=True,
    )
