"""Tests for mail.retry: the backoff schedule, its jitter bounds and the give-up rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mail.retry import MAX_SEND_ATTEMPTS, SEND_CAP, backoff, retry_delay, should_retry


@pytest.mark.parametrize(
    ("attempt", "minutes"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (9, 60), (500, 60)]
)
def test_schedule_without_jitter(attempt: int, minutes: int) -> None:
    assert retry_delay(attempt) == timedelta(minutes=minutes)


@given(st.integers(1, 10_000), st.floats(0, 1))
def test_jitter_stays_within_a_quarter(attempt: int, rand: float) -> None:
    middle = backoff(attempt, base=1.0, cap=100.0)
    got = backoff(attempt, base=1.0, cap=100.0, rand=rand)
    assert 0.75 * middle <= got <= 1.25 * middle <= 125.0


@given(st.integers(1, 60))
def test_never_shrinks(attempt: int) -> None:
    assert retry_delay(attempt + 1) >= retry_delay(attempt)
    assert retry_delay(attempt).total_seconds() <= SEND_CAP


@pytest.mark.parametrize(("attempt", "rand"), [(0, 0.5), (-1, 0.5), (1, 1.5), (1, -0.1)])
def test_bad_arguments(attempt: int, rand: float) -> None:
    with pytest.raises(ValueError):
        backoff(attempt, base=1, cap=2, rand=rand)


def test_should_retry() -> None:
    assert should_retry(1, transient=True)
    assert not should_retry(1, transient=False)
    assert should_retry(MAX_SEND_ATTEMPTS - 1, transient=True)
    assert not should_retry(MAX_SEND_ATTEMPTS, transient=True)
