"""Process-wide logging, set up once per command: stdlib loggers (ours and the libraries')
rendered by structlog, with the context bound by the workers (`case`, `record`, `outbox`) on
every line — JSON lines when stderr is not a terminal (a platform's log collector), readable
text when it is. Log ids and types, never customer data. structlog (and the rich it pulls in) is
imported when the first record is formatted, so a command that logs nothing never pays for it.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

#: Loggers of libraries that say more than an operator needs (and may name addresses).
QUIET = {"aiosmtpd": logging.WARNING, "mail.log": logging.WARNING}


def configure(level: int | str, *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Send every logger's records at `level` and above to `stream` (default stderr).

    Args:
        json: JSON lines (default: when `stream` is not a terminal).
    """
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    handler = logging.StreamHandler(out)
    handler.setFormatter(_LazyFormatter(as_json))
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
