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


def test_addresses_and_phones_are_masked_even_in_tracebacks(restore_root: None) -> None:
    out = io.StringIO()
    logs.configure(logging.DEBUG, json=True, stream=out)
    log = logging.getLogger("bot.work.outbox")
    ours = "<DSR-3.7.0123456789abcdef@example.com>"
    log.info("sent %s to %s (%s)", ours, "alice@example.org", "+49 30 1234567")
    try:
        raise RuntimeError("550 5.1.1 <bob@example.net>: Recipient address rejected")
    except RuntimeError:
        log.exception("outbox %s failed", 7)
    text = out.getvalue()
    assert "alice@example.org" not in text and "bob@example.net" not in text
    assert "+49 30" not in text and "<phone>" in text
    assert ours in text  # our own Message-IDs name no one and help the operator
    assert "Recipient address rejected" in text and "RuntimeError" in text  # traceback kept


def test_libraries_that_echo_data_are_capped_at_warning(restore_root: None) -> None:
    logs.configure(logging.DEBUG, stream=io.StringIO())
    for name in ("aioimaplib.aioimaplib", "sqlalchemy.engine.Engine", "slack_sdk.web", "httpx"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert logging.getLogger("bot.work.pipeline").getEffectiveLevel() == logging.DEBUG
