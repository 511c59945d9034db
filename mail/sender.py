"""The `Sender` protocol: something that hands a composed message on for delivery."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol


class Sender(Protocol):
    """Delivers one message; implemented by `SmtpSender` and `MaildirSender`."""

    async def send(self, msg: EmailMessage) -> None:
        """Hand `msg` on for delivery.

        Raises:
            MailSendError: with `.transient` True when a retry may succeed.
        """
        ...
