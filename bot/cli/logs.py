"""Process-wide logging, set up once per command: stdlib loggers (ours and the libraries')
rendered by structlog, with the context bound by the workers (`case`, `record`, `outbox`) on
every line — JSON lines when stderr is not a terminal (a platform's log collector), readable
text when it is. Log ids and types, never customer data. structlog (and the rich it pulls in) is
imported when the first record is formatted, so a command that logs nothing never pays for it.

No personal data at any level: libraries that log what passes through them (IMAP lines with
whole messages, SMTP envelopes, SQL with its parameters, Slack and HTTP payloads) are capped at
WARNING whatever `DSR_LOG_LEVEL` says, and a last filter masks e-mail addresses and phone numbers
in every line and traceback that still reaches the handler (an SMTP refusal quotes the address).
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from typing import TextIO

#: Loggers of libraries that say more than an operator needs, below WARNING with customer data:
#: aioimaplib logs every line it reads (whole messages) at DEBUG, aiosmtpd and mail.log the
#: envelope, sqlalchemy's engine echoes SQL parameters at INFO, slack_sdk/slack_bolt the request
#: and response bodies (card texts) at DEBUG, httpx/httpcore/aiohttp the URLs and headers.
QUIET = {
    "aiosmtpd": logging.WARNING,
    "mail.log": logging.WARNING,
    "aioimaplib": logging.WARNING,
    "aiosmtplib": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "alembic": logging.WARNING,
    "slack_sdk": logging.WARNING,
    "slack_bolt": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiohttp.client": logging.WARNING,
    "aiohttp.server": logging.WARNING,
    "aiohttp.web": logging.WARNING,
    "aiohttp.websocket": logging.WARNING,
}
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE = re.compile(r"\+\d[\d ()./-]{6,}\d")


_OUR_MESSAGE_ID = re.compile(r"DSR-\d+\.\d+\.[0-9a-f]{16}@")


def _mask(found: re.Match[str]) -> str:
    # our own Message-IDs (`mail.threading.make_message_id`) name no one and help operators
    return (
        found.group(0)
        if _OUR_MESSAGE_ID.fullmatch(found.group(0), 0, found.group(0).index("@") + 1)
        else "<address>"
    )


def redact(text: str) -> str:
    """`text` with e-mail addresses and international phone numbers masked, our own
    Message-IDs kept (pure)."""
    return _PHONE.sub("<phone>", _ADDRESS.sub(_mask, text))


class Redact(logging.Filter):
    """Masks addresses and phone numbers in a record's message and traceback, in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            shown = "".join(traceback.format_exception(*record.exc_info))
            if redact(shown) != shown:
                # the traceback goes along as text, masked (the exception object would not be)
                record.msg = f"{record.getMessage()}\n{redact(shown)}"
                record.args, record.exc_info, record.exc_text = None, None, None
        return True


def configure(level: int | str, *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Send every logger's records at `level` and above to `stream` (default stderr).

    Args:
        json: JSON lines (default: when `stream` is not a terminal).
    """
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    handler = logging.StreamHandler(out)
    handler.setFormatter(_LazyFormatter(as_json))
    handler.addFilter(Redact())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLogger().level))


class _LazyFormatter(logging.Formatter):
    """structlog's `ProcessorFormatter`, built on the first record."""

    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self._as_json = as_json
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._inner is None:
            self._inner = _structlog_formatter(self._as_json)
        return self._inner.format(record)


def _structlog_formatter(as_json: bool) -> logging.Formatter:
    import structlog

    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
