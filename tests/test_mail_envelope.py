"""`mail.envelope.first_look`: the Message-ID and digest intake records before parsing."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from mail.envelope import first_look
from mail.parse import parse_message


def _mail(message_id: str | None, body: str = "Please send me my data.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["Subject"] = "data"
    if message_id is not None:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


def test_reads_the_message_id_of_the_header() -> None:
    look = first_look(_mail("<abc.1@mail.example.org>"))
    assert (look.message_id, look.synthetic, look.blank) == (
        "<abc.1@mail.example.org>",
        False,
        False,
    )


def test_folded_and_oddly_cased_header_is_read() -> None:
    raw = b"From: a@example.org\r\nmessage-ID:\r\n\t<folded.2@mail.example.org>\r\n\r\nhi\r\n"
    assert first_look(raw).message_id == "<folded.2@mail.example.org>"


def test_a_message_id_in_the_body_is_not_taken() -> None:
    raw = b"From: a@example.org\n\nMessage-ID: <quoted@elsewhere.example>\n"
    look = first_look(raw)
    assert look.synthetic
    assert look.message_id == f"<{hashlib.sha256(raw).hexdigest()}@dsr.invalid>"


def test_without_message_id_it_agrees_with_the_parser() -> None:
    raw = _mail(None)
    parsed = parse_message(raw, trusted_authserv_id=None, max_bytes=10**6)
    assert first_look(raw).message_id == parsed.message_id
    assert parsed.message_id_synthetic


def test_an_overlong_message_id_is_replaced_by_the_digest() -> None:
    raw = b"Message-ID: <" + b"x" * 1200 + b"@example.org>\r\n\r\nhi\r\n"
    look = first_look(raw)
    assert look.synthetic and look.message_id.endswith("@dsr.invalid>")


def test_blank_message_is_marked_blank() -> None:
    assert first_look(b" \r\n\r\n").blank
    assert first_look(b"").blank


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_on_any_bytes(raw: bytes) -> None:
    look = first_look(raw)
    assert look.message_id.startswith("<") and len(look.message_id) <= 998
    assert look.sha256 == hashlib.sha256(raw).hexdigest()


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9.$%+_-]{1,40}", fullmatch=True),
    st.from_regex(r"[a-z0-9-]{1,20}\.example", fullmatch=True),
    st.text(max_size=300),
)
def test_agrees_with_the_full_parser(local: str, domain: str, body: str) -> None:
    raw = _mail(f"<{local}@{domain}>", body)
    parsed = parse_message(raw, trusted_authserv_id=None, max_bytes=10**6)
    assert first_look(raw).message_id == parsed.message_id
