"""Errors raised by the mail package.

MailError(Exception)
├── MailParseError(MailError, ValueError)          raw bytes could not be read as a message
├── MailSendError(MailError, OSError)              a message was not handed over (.transient)
├── MailConnectionError(MailError, ConnectionError) server unreachable, login refused, dropped
└── TemplateError(MailError, LookupError)          a reply template or its context is wrong
"""

from __future__ import annotations


class MailError(Exception):
    """Base class of every error the mail package raises on purpose."""


class MailParseError(MailError, ValueError):
    """The bytes could not be turned into a `ParsedMessage`; keep the raw message in quarantine."""


class MailSendError(MailError, OSError):
    """A message could not be sent.

    Attributes:
        transient: True for a temporary failure (SMTP 4xx, network error, timeout) worth retrying;
            False for a permanent refusal (SMTP 5xx, bad configuration) that retrying cannot fix.
        code: the SMTP reply code when the server gave one.
    """

    def __init__(self, message: str, *, transient: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


class MailConnectionError(MailError, ConnectionError):
    """The IMAP or SMTP server could not be reached, refused the login, or dropped us."""


class TemplateError(MailError, LookupError):
    """A reply template is missing, or its context lacks a key the template needs."""
