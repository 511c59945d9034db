"""Process logging: every stdlib logger rendered by structlog, with the bound case reference."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from structlog.contextvars import bound_contextvars

from bot.cli import logs


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def test_json_lines_carry_the_bound_case(restore_root: None) -> None:
    out = io.StringIO()
    logs.configure(logging.INFO, json=True, stream=out)
    with bound_contextvars(case="DSR-7"):
        logging.getLogger("bot.work.pipeline").info("advanced %s step", 1)
    logging.getLogger("bot.work.pipeline").info("outside")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["event"] == "advanced 1 step"
    assert first["case"] == "DSR-7"
    assert first["level"] == "info" and first["logger"] == "bot.work.pipeline"
    assert "case" not in second


def test_smtp_receiver_chatter_stays_below_warning(restore_root: None) -> None:
    out = io.StringIO()
    logs.configure(logging.DEBUG, json=False, stream=out)
    logging.getLogger("mail.log").info("sender: someone@example.org")
    logging.getLogger("bot").debug("kept")
    text = out.getvalue()
    assert "someone@example.org" not in text
    assert "kept" in text
