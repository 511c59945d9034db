"""Pure verification: reading codes, the keyed sender check, and judging one reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.case import verify
from bot.case.verify import (
    ALPHABET,
    MAX_STRAY,
    Purpose,
    Reply,
    Verdict,
    address_key,
    codes_in,
    confirmed,
    hash_code,
    judge,
    new_code,
)
from storage.models import VerificationChallenge

KEY = b"k" * 32
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
CODE = "587E-U7WA"
ALICE = "alice@example.org"


@pytest.mark.parametrize(
    "text",
    [
        "code 587E-U7WA",
        "587EU7WA",
        "587e u7wa",
        "587e-u7wa",
        "Code: 587E – U7WA.",
        "(587E.U7WA)",
        "my code is\t587E_U7WA!",
        "Subject: Re: [DSR-4] 587EU7WA",
    ],
    ids=["words", "bare", "lower-space", "lower", "en-dash", "dot", "underscore", "subject"],
)
def test_the_code_is_read_in_any_shape(text: str) -> None:
    assert "587EU7WA" in codes_in(text)


@pytest.mark.parametrize(
    "text",
    ["CODE587E-U7WA", "CODE587EU7WA", "587EU7WAX", "X587E-U7WA", "587E-U7WA9", "587E----U7WA"],
    ids=["glued-word", "glued-all", "trailing-letter", "leading-letter", "digit", "long-sep"],
)
def test_a_code_touching_other_letters_is_no_code(text: str) -> None:
    assert "587EU7WA" not in codes_in(text)


@pytest.mark.parametrize("length", range(1, 13), ids=lambda n: f"word-of-{n}")
@pytest.mark.parametrize(
    "shape", ["587E-U7WA", "587EU7WA", "587e u7wa"], ids=["dash", "bare", "lo"]
)
def test_the_code_after_a_word_of_every_length(length: int, shape: str) -> None:
    word = ("WXYZABCDEFGH" * 2)[:length]  # letters of the code alphabet: the worst neighbours
    for text in (f"{word} {shape}", f"{word.lower()} {shape}.", f"{word}: {shape}"):
        assert "587EU7WA" in codes_in(text), text


def test_candidates_are_capped_and_separated_codes_come_first() -> None:
    many = " ".join(f"AB{a}{b} CDEF" for a in "23456789" for b in "2345")
    assert len(codes_in(many)) == verify.MAX_CANDIDATES
    assert codes_in(f"{many} {CODE}")[0] == "587EU7WA"


@given(
    st.text(alphabet="abcdefghjkmnpqrstuvwxyz .,!?\n", max_size=40),
    st.text(alphabet="abcdefghjkmnpqrstuvwxyz .,!?\n", max_size=40),
)
def test_a_fresh_code_is_found_between_any_words(before: str, after: str) -> None:
    code = new_code()
    found = codes_in(f"{before} {code} {after}")
    assert code.replace("-", "") in found


def test_new_codes_use_the_alphabet_and_hash_alike_in_any_shape() -> None:
    code = new_code()
    assert len(code) == 9 and code[4] == "-" and set(code.replace("-", "")) <= set(ALPHABET)
    assert hash_code(KEY, code) == hash_code(KEY, code.lower().replace("-", " "))
    assert hash_code(KEY, code) != hash_code(b"x" * 32, code)


@pytest.mark.parametrize(
    ("a", "b", "casefold", "same"),
    [
        ("alice@example.org", "alice@example.org", False, True),
        ("alice@example.org", "alice@EXAMPLE.org", False, True),  # domains ignore case
        ("alice@example.org", "Alice@example.org", False, False),  # exact local part
        ("alice@example.org", "Alice@example.org", True, True),
        ("straße@example.org", "strasse@example.org", False, False),
        ("straße@example.org", "strasse@example.org", True, False),  # lower(), never casefold
        ("STRASSE@example.org", "strasse@example.org", True, True),
        ("alice@example.org", "alice@example.org.evil.example", True, False),
        ("alice@example.org", " alice@example.org ", False, True),
    ],
    ids=[
        "same",
        "domain-case",
        "local-case",
        "casefold",
        "eszett",
        "eszett-cf",
        "upper-cf",
        "sfx",
        "ws",
    ],
)
def test_address_key_compares_the_address_as_stored(
    a: str, b: str, casefold: bool, same: bool
) -> None:
    assert (
        address_key(KEY, a, casefold_local=casefold) == address_key(KEY, b, casefold_local=casefold)
    ) is same


def _challenge(**kw: object) -> VerificationChallenge:
    values: dict[str, object] = {
        "case_id": 1,
        "code_hash": hash_code(KEY, CODE),
        "message_id": "<DSR-1.2.abc@example.com>",
        "sent_to_pseudonym": address_key(KEY, ALICE),
        "expires_at": NOW + timedelta(days=7),
        **kw,
    }
    return VerificationChallenge(**values)


THREAD = ("<DSR-1.2.abc@example.com>",)


@pytest.mark.parametrize(
    ("sender", "text", "refs", "dmarc", "expected"),
    [
        (ALICE, f"yes {CODE}", THREAD, None, Verdict.OK),
        (ALICE, f"yes {CODE}", (), None, Verdict.OK),  # the code proves it on its own
        (ALICE, "yes", THREAD, None, Verdict.NO_CODE),  # a reply is not a yes
        (ALICE, "yes ABCD-EFGH", THREAD, None, Verdict.WRONG_CODE),
        (ALICE, "yes ABCD-EFGH", (), None, Verdict.STRAY_CODE),  # may be forged
        (ALICE, "NO", (), None, Verdict.UNPROVEN),  # a forged NO cannot close the case
        (ALICE, "NO", (), "pass", Verdict.REFUSED),
        (ALICE, "NO", THREAD, None, Verdict.REFUSED),
        (ALICE, f"It was not me! {CODE}", THREAD, None, Verdict.REFUSED),
        (ALICE, "What is this?", THREAD, None, Verdict.QUESTION),
        (ALICE, f"Is this right? {CODE}", THREAD, None, Verdict.OK),
        (ALICE, f"yes {CODE}", THREAD, "fail", Verdict.SPOOFED),
        (ALICE.upper(), f"yes {CODE}", THREAD, "pass", Verdict.WRONG_SENDER),
        ("mallory@evil.example", f"yes {CODE}", THREAD, "pass", Verdict.WRONG_SENDER),
        (ALICE, f"If that was you, reply with the code {CODE}", THREAD, None, Verdict.ECHO),
    ],
    ids=[
        "code",
        "code-unthreaded",
        "bare-yes",
        "wrong-code",
        "stray-code",
        "forged-no",
        "no-dmarc-pass",
        "no-threaded",
        "refusal-wins",
        "question",
        "question-with-code",
        "dmarc-fail",
        "case-differs",
        "stranger",
        "echo",
    ],
)
def test_judge(
    sender: str, text: str, refs: tuple[str, ...], dmarc: str | None, expected: Verdict
) -> None:
    reply = Reply(address_key(KEY, sender), text, dmarc, refs)
    assert judge(_challenge(), reply, key=KEY, now=NOW) is expected


def test_judge_a_spent_challenge() -> None:
    reply = Reply(address_key(KEY, ALICE), f"yes {CODE}", None, THREAD)
    assert judge(_challenge(used_at=NOW), reply, key=KEY, now=NOW) is Verdict.USED
    assert judge(_challenge(attempts=5), reply, key=KEY, now=NOW) is Verdict.REVOKED
    late = NOW + timedelta(days=8)
    assert judge(_challenge(), reply, key=KEY, now=late) is Verdict.EXPIRED
    stray = Reply(address_key(KEY, ALICE), f"yes {CODE}", None)
    assert judge(_challenge(stray_attempts=MAX_STRAY), stray, key=KEY, now=NOW) is (
        Verdict.UNPROVEN  # past the stray cap an unthreaded mail is not even read
    )
    assert judge(_challenge(stray_attempts=MAX_STRAY), reply, key=KEY, now=NOW) is Verdict.OK


@given(
    sender=st.emails().filter(lambda a: a != ALICE),
    text=st.text(max_size=80),
    threaded=st.booleans(),
    dmarc=st.sampled_from([None, "pass", "fail", "none"]),
)
def test_nobody_else_gets_a_verdict_that_touches_the_challenge(
    sender: str, text: str, threaded: bool, dmarc: str | None
) -> None:
    reply = Reply(address_key(KEY, sender), f"{text} {CODE}", dmarc, THREAD if threaded else ())
    assert judge(_challenge(), reply, key=KEY, now=NOW) is Verdict.WRONG_SENDER


def test_confirmed_needs_consent_and_every_ownership() -> None:
    consent = _challenge(purpose=Purpose.CONSENT, used_at=NOW)
    waiting = _challenge(purpose=Purpose.OWNERSHIP)
    owned = _challenge(purpose=Purpose.OWNERSHIP, used_at=NOW)
    assert confirmed([consent])
    assert not confirmed([consent, waiting])
    assert confirmed([consent, owned])
    assert not confirmed([owned])
    assert not confirmed([_challenge()])


def test_pseudonyms_do_not_merge_eszett_and_ss() -> None:
    from storage.pseudonym import normalise_identity, pseudonym

    assert normalise_identity(" Straße@Example.org ") == "straße@example.org"
    assert pseudonym(KEY, "straße@example.org") != pseudonym(KEY, "strasse@example.org")
    assert pseudonym(KEY, "Alice@Example.org") == pseudonym(KEY, "alice@example.org")
