"""Tests for mail.imap_proto: SELECT, SEARCH and FETCH answers as aioimaplib returns them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mail.imap_proto import fetch_items, mailbox_grew, search_uids, select_codes, uid_set


def test_select_codes() -> None:
    lines = [
        b"FLAGS (\\Answered \\Seen)",
        b"3 EXISTS",
        b"OK [UIDVALIDITY 1795993279] UIDs valid",
        b"OK [UIDNEXT 4] Predicted next UID",
        b"[READ-WRITE] Select completed (0.001 + 0.000 secs).",
    ]
    assert select_codes(lines) == (1795993279, 4)
    with pytest.raises(ValueError, match="UIDVALIDITY"):
        select_codes([b"3 EXISTS", b"Select completed"])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([b"2 3", b"Search completed (0.001 + 0.000 secs)."], [2, 3]),
        ([b"", b"Search completed."], []),
        ([b"SEARCH 9 1 5", b"done"], [1, 5, 9]),
        ([b"Search completed."], []),
        ([b"7 EXISTS", b"1 RECENT", b"", b"Search completed."], []),
        ([b"7 EXISTS", b"4 6", b"Search completed."], [4, 6]),
    ],
    ids=["plain", "empty", "with-keyword", "no-data-line", "update-only", "update-and-data"],
)
def test_search_uids(lines: list[bytes], expected: list[int]) -> None:
    assert search_uids(lines) == expected


@pytest.mark.parametrize(
    ("lines", "grew"),
    [
        ([b"7 EXISTS", b"", b"Search completed."], True),
        ([b"4 6", b"Search completed."], False),
        ([b"2 EXPUNGE", b"Store completed."], False),
        ([b"Search completed."], False),
    ],
)
def test_mailbox_grew(lines: list[bytes], grew: bool) -> None:
    assert mailbox_grew(lines) is grew


def test_fetch_items_dovecot_order() -> None:
    lines = [
        b"1 FETCH (UID 1 FLAGS (\\Recent) BODY[] {5}",
        bytearray(b"hello"),
        b")",
        b"2 FETCH (UID 3 FLAGS (\\Seen $Processed) RFC822.SIZE 35)",
        b"Fetch completed.",
    ]
    one, two = fetch_items(lines)
    assert (one.uid, one.body, one.flags) == (1, b"hello", frozenset({"\\Recent"}))
    assert (two.uid, two.size, two.body) == (3, 35, None)
    assert "$Processed" in two.flags


def test_fetch_items_uid_after_the_literal() -> None:
    lines = [b"7 FETCH (BODY[] {3}", bytearray(b"abc"), b" UID 42 FLAGS ())", b"done"]
    [item] = fetch_items(lines)
    assert (item.uid, item.body, item.flags) == (42, b"abc", frozenset())


@pytest.mark.parametrize(
    ("uids", "expected"),
    [([1, 2, 3, 7], "1:3,7"), ([5], "5"), ([3, 1, 2, 2], "1:3"), ([1, 3, 5], "1,3,5"), ([], "")],
)
def test_uid_set(uids: list[int], expected: str) -> None:
    assert uid_set(uids) == expected


@given(st.sets(st.integers(1, 10_000), max_size=200))
def test_uid_set_round_trip(uids: set[int]) -> None:
    out: set[int] = set()
    for part in filter(None, uid_set(uids).split(",")):
        lo, _, hi = part.partition(":")
        out.update(range(int(lo), int(hi or lo) + 1))
    assert out == uids
