"""Skip-or-fail policy for tests that need a real server binary."""

from __future__ import annotations

import os

import pytest


def servers_required() -> bool:
    """True when DSR_REQUIRE_SERVERS=1: a missing server is then a failure, not a skip."""
    return os.environ.get("DSR_REQUIRE_SERVERS", "") == "1"


def unavailable(reason: str) -> None:
    """Skip the test with `reason`, or fail it when servers are required (CI)."""
    if servers_required():
        pytest.fail(f"{reason} (DSR_REQUIRE_SERVERS=1 is set, so this is a failure)")
    pytest.skip(reason)
