"""Reading .eml files into classifier text (stdlib email, policy.default)."""

from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intents.eml import eml_text


def test_subject_and_plain_body_win_over_html() -> None:
    message = EmailMessage()
    message["Subject"] = "Löschung meiner Daten"
    message.set_content("Bitte löschen Sie alles.")
    message.add_alternative("<p>HTML version</p>", subtype="html")
    assert eml_text(bytes(message)) == "Löschung meiner Daten\n\nBitte löschen Sie alles."


def test_html_only_becomes_text() -> None:
    message = EmailMessage()
    message["Subject"] = "hi"
    message.set_content("<p>Please <b>unsubscribe</b> me</p><script>x</script>", subtype="html")
    text = eml_text(bytes(message))
    assert "unsubscribe" in text and "<b>" not in text


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Subject: =?utf-8?B?broken?=\r\n\r\nbody",
        b"Subject: x\r\nContent-Type: text/plain; charset=unknown-8bit\r\n\r\n\xff\xfe body",
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nno end",
    ],
    ids=["empty", "bad-encoded-word", "unknown-charset", "unterminated-multipart"],
)
def test_malformed_mail_gives_text(raw: bytes) -> None:
    assert isinstance(eml_text(raw), str)


@given(st.binary(max_size=3000))
def test_any_bytes(raw: bytes) -> None:
    assert isinstance(eml_text(raw), str)
