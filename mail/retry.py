"""Retry policy for sending and reconnecting: exponential backoff with jitter (pure).

Randomness is passed in (`rand` in [0, 1)), so the policy stays a pure, testable function.
"""

from __future__ import annotations

from datetime import timedelta

MAX_SEND_ATTEMPTS = 8
SEND_BASE = 60.0  # seconds before the second attempt
SEND_CAP = 3600.0  # never wait more than an hour between attempts


def backoff(attempt: int, *, base: float, cap: float, rand: float = 0.5) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Doubles from `base` up to `cap`, then spreads by ±25% using `rand` ("equal jitter"), so
    many clients that failed together do not retry together.

    Raises:
        ValueError: `attempt` < 1 or `rand` outside [0, 1].
    """
    if attempt < 1:
        raise ValueError(f"attempt {attempt}: attempts are counted from 1")
    if not 0.0 <= rand <= 1.0:
        raise ValueError(f"rand {rand}: pass a number in [0, 1), e.g. random.random()")
    delay = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return delay * (0.75 + 0.5 * rand)


def retry_delay(attempt: int, *, rand: float = 0.5) -> timedelta:
    """How long the outbox waits after send attempt `attempt` failed transiently.

    About 1, 2, 4, 8, 16, 32 minutes, then hourly (±25%).

    Raises:
        ValueError: `attempt` < 1 or `rand` outside [0, 1].
    """
    return timedelta(seconds=backoff(attempt, base=SEND_BASE, cap=SEND_CAP, rand=rand))


def should_retry(attempt: int, *, transient: bool, max_attempts: int = MAX_SEND_ATTEMPTS) -> bool:
    """Whether to try again after attempt `attempt` failed; False means mark the row failed."""
    return transient and attempt < max_attempts
