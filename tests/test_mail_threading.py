"""Tests for mail.threading: our Message-IDs and the [DSR-n] tag lead back to the case."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mail.parse import parse_message
from mail.threading import (
    case_reference,
    make_message_id,
    parse_our_message_id,
    referenced_case,
)

DOMAIN = "shop.example"


def msg(*lines: str) -> object:
    raw = ("\r\n".join(["From: a@c.example", *lines]) + "\r\n\r\nbody\r\n").encode()
    return parse_message(raw, trusted_authserv_id=None, max_bytes=100_000)


@given(st.integers(0, 10**12), st.integers(0, 10**12))
def test_make_and_parse_round_trip(case: int, outbox: int) -> None:
    mid = make_message_id(case, outbox, DOMAIN)
    assert re.fullmatch(r"<DSR-\d+\.\d+\.[0-9a-f]{16}@shop\.example>", mid)
    ours = parse_our_message_id(mid, own_domain=DOMAIN)
    assert ours is not None and (ours.case_number, ours.outbox_id) == (case, outbox)


def test_message_ids_are_unique() -> None:
    assert len({make_message_id(1, 1, DOMAIN) for _ in range(1000)}) == 1000


@pytest.mark.parametrize("domain", ["", "a b", "x@y", "<x>", "a\r\nb"], ids=repr)
def test_make_message_id_refuses_bad_domains(domain: str) -> None:
    with pytest.raises(ValueError, match="Message-ID domain"):
        make_message_id(1, 1, domain)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["In-Reply-To: <DSR-12.40.ab12@shop.example>"], 12),
        (["References: <x@c.example> <DSR-5.1.aa@shop.example> <DSR-6.2.bb@shop.example>"], 6),
        (["In-Reply-To: <DSR-7.3.cc@SHOP.example>", "Subject: [DSR-99] x"], 7),
        (["In-Reply-To: <DSR-7.3.cc@evil.example>", "Subject: Re: [DSR-8] x"], 8),
        (["Subject: Re: [dsr-21] my request"], 21),
        (["Subject: DSR-21 without brackets"], None),
        (["In-Reply-To: <DSR-7.3.cc@evil.example>"], None),
        ([], None),
    ],
    ids=[
        "in-reply-to",
        "newest-reference",
        "header-beats-subject",
        "foreign-domain-subject",
        "subject-tag",
        "no-brackets",
        "foreign-domain",
        "nothing",
    ],
)
def test_referenced_case(lines: list[str], expected: int | None) -> None:
    assert referenced_case(msg(*lines), own_domain=DOMAIN) == expected  # type: ignore[arg-type]


def test_case_reference_says_how() -> None:
    ref = case_reference(msg("In-Reply-To: <DSR-3.9.ff@shop.example>"), own_domain=DOMAIN)  # type: ignore[arg-type]
    assert ref is not None and (ref.via, ref.outbox_id) == ("message_id", 9)
    ref = case_reference(msg("Subject: [DSR-3]"), own_domain=DOMAIN)  # type: ignore[arg-type]
    assert ref is not None and (ref.via, ref.outbox_id) == ("subject", None)
