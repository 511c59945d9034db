"""pytest fixtures for the mail servers: one Dovecot per session, a fresh SMTP server per test.

Load with `pytest_plugins = ["tests.servers.fixtures"]` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.servers.availability import unavailable
from tests.servers.dovecot import DovecotServer, ServerUnavailable, start_dovecot
from tests.servers.smtp import SmtpServer, start_smtp


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A real Dovecot on a free loopback port, users bot/botpass and alice/alicepass.

    Plain IMAP and STARTTLS on `.port`, implicit TLS on `.tls_port`; trust its certificate
    with `.client_ssl_context()`.

    Skips when dovecot is not installed, or fails under DSR_REQUIRE_SERVERS=1. Tests that
    restart or kill it must leave it running (call `start()`/`restart()` before returning).
    """
    try:
        server = start_dovecot(tls=True)
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc
    yield server
    server.destroy()


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """A fresh recording SMTP server (plain, no auth) for one test."""
    server = await start_smtp()
    yield server
    await server.close()


@pytest.fixture
async def smtp_tls_server() -> AsyncIterator[SmtpServer]:
    """A fresh SMTP server requiring STARTTLS (trustme CA) and AUTH bot/smtppass."""
    server = await start_smtp(starttls=True, credentials=("bot", "smtppass"))
    yield server
    await server.close()
