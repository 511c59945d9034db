"""What a mailbox reader hands to its handler, and what the handler answers (types and protocols).

Readers flag or move a message only after the handler returned: the IMAP reader hands over a
batch at a time (`BatchHandler`), the Maildir reader one message at a time (`Handler`). The
desk's handler only records the raw messages, a batch per transaction, so a crash before that
commit leaves them unflagged to be read again, and nothing is lost. Parsing, robot checks and
the case come later, from the records (in dsr-bot, `bot.work.scheduler.run_inbound`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """The handler's verdict on one message."""

    PROCESSED = "processed"  # recorded; flag it ($Processed, \Seen) and leave it
    QUARANTINE = "quarantine"  # recorded as unusable; keep it, flagged, in the quarantine folder


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message as read from a mailbox.

    Attributes:
        raw: the message bytes exactly as stored.
        source: a stable description for the record, e.g. `imap:INBOX:1700000000:42` or
            `maildir:1700000000.M1P2.host`.
        uid, uidvalidity, mailbox: set for IMAP; None for a Maildir.
        size: the full size the server declared (IMAP RFC822.SIZE), when known.
        truncated: only the header was fetched because `size` exceeded the intake's limit;
            pass `declared_size=size` to `parse_message` so the refusal is recorded.
    """

    raw: bytes
    source: str
    uid: int | None = None
    uidvalidity: int | None = None
    mailbox: str | None = None
    size: int | None = None
    truncated: bool = False


Handler = Callable[[Fetched], Awaitable[Outcome]]
# Records a whole batch in one transaction; returns one outcome per item, in order.
BatchHandler = Callable[[Sequence[Fetched]], Awaitable[Sequence[Outcome]]]


def one_by_one(handler: Handler) -> BatchHandler:
    """A `BatchHandler` that calls `handler` for each item in turn."""

    async def batch(items: Sequence[Fetched]) -> Sequence[Outcome]:
        return [await handler(item) for item in items]

    return batch


class UidStateStore(Protocol):
    """Where the IMAP intake remembers how far it has read a mailbox."""

    async def load(self, mailbox: str) -> tuple[int, int] | None:
        """(uidvalidity, last processed uid), or None before the first run."""
        ...

    async def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        """Remember that every uid up to `last_uid` under `uidvalidity` is done."""
        ...


class InMemoryUidState:
    """A `UidStateStore` in a dict, for tests and throwaway runs."""

    def __init__(self) -> None:
        self.state: dict[str, tuple[int, int]] = {}

    async def load(self, mailbox: str) -> tuple[int, int] | None:
        return self.state.get(mailbox)

    async def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        self.state[mailbox] = (uidvalidity, last_uid)
