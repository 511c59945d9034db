"""Shared fixtures: real servers (PostgreSQL, Dovecot, SMTP, fake Slack) and database URLs."""

from __future__ import annotations

import os

os.environ.setdefault("DSR_SECRET_KEY", "test-secret-key-0123456789abcdef-0123456789")

pytest_plugins = ["tests.servers.pg_fixtures", "tests.servers.fixtures", "tests.servers.slack"]
