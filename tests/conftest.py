"""Shared fixtures: real servers (PostgreSQL, Dovecot, SMTP, fake Slack) and database URLs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from intents.classify import IntentModel, load_model
from storage import sealing

if TYPE_CHECKING:
    from tests.agent_harness import Harness
    from tests.servers.dovecot import DovecotServer
    from tests.servers.smtp import SmtpServer

os.environ.setdefault("DSR_SECRET_KEY", "test-secret-key-0123456789abcdef-0123456789")
# Contexts that set no keyring (fixtures that write the case store directly, servers in threads)
# seal with the keys every `dsr` command of the tests derives from that DSR_SECRET_KEY.
sealing.set_default_keyring(sealing.Keyring.from_secrets([], os.environ["DSR_SECRET_KEY"].encode()))

pytest_plugins = ["tests.servers.pg_fixtures", "tests.servers.fixtures", "tests.servers.slack"]


@pytest.fixture(scope="session")
def intent_model() -> IntentModel:
    """The shipped classifier, loaded once per test session."""
    return load_model()


@pytest.fixture(autouse=True)
def _own_head_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test anchors into its own head file, never ./var's (verify reads it by default)."""
    path = tmp_path_factory.mktemp("heads") / "audit-heads.jsonl"
    monkeypatch.setenv("DSR_AUDIT_HEAD_FILE", str(path))


@pytest.fixture
async def h(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
) -> AsyncIterator[Harness]:
    """The desk on both backends, reading a fresh Dovecot mailbox and sending to a recording
    SMTP server (`tests.agent_harness.harness`); a test file may define its own `h`."""
    from tests.agent_harness import harness

    tmp = Path(tempfile.mkdtemp(prefix="dsr-agent-"))
    async with harness(case_store_url, dovecot, smtp_server, intent_model, tmp) as hh:
        yield hh
