"""Test helpers that reach a database around our code (as an attacker or an auditor would)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import make_url

from tests.servers.postgres import PostgresServer


def raw_sql(url: str, sql: str, request: pytest.FixtureRequest) -> str:
    """Run SQL outside our code: sqlite3 for SQLite, psql for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        with sqlite3.connect(parsed.database) as conn:
            conn.executescript(sql)
            return ""
    server: PostgresServer = request.getfixturevalue("postgres_server")
    assert parsed.database
    return server.psql(sql, parsed.database)


def drop_audit_triggers_sql(url: str) -> str:
    """SQL an attacker with database rights would run to disable append-only protection."""
    if make_url(url).get_backend_name() == "sqlite":
        return (
            "DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete; "
            "DROP TRIGGER IF EXISTS audit_event_next_link_only;"
        )
    return (
        "DROP TRIGGER audit_event_no_update_delete ON audit_event; "
        "DROP TRIGGER audit_event_no_truncate ON audit_event;"
    )
