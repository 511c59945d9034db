"""Shared fixtures: real servers (PostgreSQL, Dovecot, SMTP, fake Slack) and database URLs."""

from __future__ import annotations

import os

import pytest

from intents.classify import IntentModel, load_model

os.environ.setdefault("DSR_SECRET_KEY", "test-secret-key-0123456789abcdef-0123456789")

pytest_plugins = ["tests.servers.pg_fixtures", "tests.servers.fixtures", "tests.servers.slack"]


@pytest.fixture(scope="session")
def intent_model() -> IntentModel:
    """The shipped classifier, loaded once per test session."""
    return load_model()
