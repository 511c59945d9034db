"""Tests for mail.parse: real-world shapes of customer mail, read from tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from mail.errors import MailParseError
from mail.parse import ParsedMessage, parse_message

DATA = Path(__file__).parent / "data"


def load(name: str, trusted: str | None = None, max_bytes: int = 1_000_000) -> ParsedMessage:
    raw = (DATA / name).read_bytes()
    return parse_message(raw, trusted_authserv_id=trusted, max_bytes=max_bytes)


def test_reply_headers_and_quote_stripping() -> None:
    msg = load("mail_reply_quoted.eml")
    assert msg.message_id == "<reply-1@customer.example>"
    assert msg.in_reply_to == ("<DSR-12.40.9f8e7d6c@shop.example>",)
    assert msg.references == ("<first@customer.example>", "<DSR-12.40.9f8e7d6c@shop.example>")
    assert msg.from_addr == "alice@customer.example"
    assert msg.from_name == "Alice Example"
    # the record keeps everything, the classifier sees only the author's words
    assert "Your code is 123456" in msg.text
    assert "Example Street" in msg.text
    expected = "Please confirm your request\n\nYes, I confirm. Please go ahead."
    assert msg.body_for_classification == expected


def test_html_only_body_is_converted_and_language_read() -> None:
    msg = load("mail_html_only.eml")
    assert msg.subject == "Löschung meiner Daten"
    assert msg.from_name == "Jürgen Müller"
    assert msg.html_present
    assert "bitte löschen Sie alle meine Daten." in msg.text
    assert "<p>" not in msg.text
    assert msg.language_hint == "de-de"


def test_mislabelled_charset_is_repaired() -> None:
    msg = load("mail_mislabelled_charset.eml")
    assert "qué datos tienen sobre mí" in msg.text
    assert "señor" in msg.text


def test_plain_alternative_wins_and_attachment_is_listed_not_read() -> None:
    msg = load("mail_attachment.eml")
    assert msg.text.startswith("Graag wil ik inzage in mijn gegevens. Mijn paspoort")
    assert msg.text.endswith("bijlage.é")  # iso-8859-1 quoted-printable decoded
    assert msg.html_present
    assert len(msg.attachments) == 1
    att = msg.attachments[0]
    assert (att.filename, att.content_type) == ("paspoort.pdf", "application/pdf")
    assert att.size == 48
    assert "JVBER" not in msg.text


def test_bounce_keeps_returned_message_out_of_the_text() -> None:
    msg = load("mail_bounce_dsn.eml")
    assert msg.report_type == "delivery-status"
    assert msg.null_return_path
    assert "Please reply to confirm" not in msg.text
    assert [a.content_type for a in msg.attachments] == [
        "message/delivery-status",
        "message/rfc822",
    ]


def test_missing_message_id_is_synthesised_stably() -> None:
    raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"
    one = parse_message(raw, trusted_authserv_id=None, max_bytes=1000)
    two = parse_message(raw, trusted_authserv_id=None, max_bytes=1000)
    assert one.message_id == two.message_id
    assert one.message_id_synthetic
    assert one.message_id == f"<{one.sha256}@dsr.invalid>"


def test_oversize_keeps_headers_and_flags() -> None:
    raw = b"From: a@b.example\r\nSubject: big\r\nMessage-ID: <big@b>\r\n\r\n" + b"x" * 5000
    msg = parse_message(raw, trusted_authserv_id=None, max_bytes=1000)
    assert msg.oversize
    assert msg.message_id == "<big@b>"
    assert msg.subject == "big"
    assert msg.text == ""
    assert msg.size == len(raw)


AR_HEADERS = (
    b"Authentication-Results: mx.shop.example; spf=pass smtp.mailfrom=c.example;\r\n"
    b" dkim=fail header.d=x; dkim=pass (ok) header.d=c.example; dmarc=fail header.from=c\r\n"
    b"Authentication-Results: mx.shop.example; dmarc=pass (forged lower down)\r\n"
)


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ("mx.shop.example", ("fail", "pass", "pass")),
        ("MX.Shop.Example", ("fail", "pass", "pass")),
        ("other.example", None),
        (None, None),
    ],
    ids=["trusted", "case-insensitive", "other-id", "none-configured"],
)
def test_authentication_results_trusted_only_from_our_authserv_id(
    trusted: str | None, expected: tuple[str, str, str] | None
) -> None:
    raw = AR_HEADERS + b"From: c@c.example\r\nSubject: x\r\n\r\nbody\r\n"
    auth = parse_message(raw, trusted_authserv_id=trusted, max_bytes=10_000).auth
    got = (auth.dmarc, auth.dkim, auth.spf) if auth else None
    assert got == expected


def test_encoded_crlf_in_display_name_cannot_change_the_address() -> None:
    raw = (
        b"From: =?utf-8?q?Eve_=0D=0ABcc=3A_x=40evil.example_=3Cx=40evil.example=3E?=\r\n"
        b" <eve@customer.example>\r\n"
        b"Subject: =?utf-8?q?hi=0D=0ABcc=3A_y=40evil.example?=\r\n\r\nb\r\n"
    )
    msg = parse_message(raw, trusted_authserv_id=None, max_bytes=10_000)
    assert msg.from_addr == "eve@customer.example"
    assert msg.from_name is not None and "\n" not in msg.from_name and "\r" not in msg.from_name
    assert "\n" not in msg.subject and "\r" not in msg.subject


@pytest.mark.parametrize("raw", [b"", b"   \r\n", "text"], ids=["empty", "blank", "str"])
def test_unusable_input_raises_parse_error(raw: object) -> None:
    with pytest.raises(MailParseError):
        parse_message(raw, trusted_authserv_id=None, max_bytes=100)  # type: ignore[arg-type]


def test_headers_in_several_shapes() -> None:
    raw = (
        b"From: plain@x.example\r\nTo: A <a@x.example>, b@x.example\r\nCc: c@x.example\r\n"
        b"Reply-To: <r@x.example>\r\nDate: not a date\r\nMessage-ID: bare-id@x.example\r\n"
        b"Precedence: Bulk\r\nAuto-Submitted: Auto-Generated; x=y\r\nList-Id: <l.x.example>\r\n"
        b"\r\nhello\r\n"
    )
    msg = parse_message(raw, trusted_authserv_id=None, max_bytes=10_000)
    assert msg.to_addrs == ("a@x.example", "b@x.example")
    assert msg.cc_addrs == ("c@x.example",)
    assert msg.reply_to == "r@x.example"
    assert msg.date is None
    assert msg.message_id == "<bare-id@x.example>"
    assert (msg.precedence, msg.auto_submitted) == ("bulk", "auto-generated")
    assert msg.list_id == "<l.x.example>"
