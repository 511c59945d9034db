"""Process-wide logging, set up once per command: stdlib loggers (ours and the libraries')
rendered by structlog, with the context bound by the workers (`case`, `record`, `outbox`) on
every line — JSON lines when stderr is not a terminal (a platform's log collector), readable
text when it is. Log ids and types, never customer data.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

#: Loggers of libraries that say more than an operator needs (and may name addresses).
QUIET = {"aiosmtpd": logging.WARNING, "mail.log": logging.WARNING}


def configure(level: int | str, *, json: bool | None = None, stream: TextIO | None = None) -> None:
    """Send every logger's records at `level` and above to `stream` (default stderr).

    Args:
        json: JSON lines (default: when `stream` is not a terminal).
    """
    out = stream or sys.stderr
    as_json = not out.isatty() if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in QUIET.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLogger().level))
