"""pytest fixtures: one PostgreSQL cluster per test session, fresh databases per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.availability import unavailable
from tests.servers.postgres import PostgresServer, ServerUnavailable, destroy, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL on a free loopback port (skips, or fails under DSR_REQUIRE_SERVERS=1)."""
    try:
        server = start_postgres()
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise AssertionError("unreachable") from exc
    yield server
    destroy(server)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both supported databases."""
    return str(request.param)


@pytest.fixture
def empty_db_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A fresh, empty database URL on the parametrised backend."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        return f"sqlite+aiosqlite:///{path}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database("t")


@pytest.fixture
def case_store_url(empty_db_url: str) -> str:
    """A fresh case store migrated to head, on both backends."""
    from storage.migrate import upgrade

    upgrade(empty_db_url)
    return empty_db_url
