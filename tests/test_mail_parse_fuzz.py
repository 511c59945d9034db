"""Property tests: random and mangled MIME never raises anything but MailParseError."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mail.errors import MailParseError
from mail.parse import parse_message
from mail.quotes import strip_quotes

DATA = Path(__file__).parent / "data"
SAMPLES = [p.read_bytes() for p in sorted(DATA.glob("mail_*.eml"))]

HEADER_NAMES = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "Return-Path",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Content-Language",
    "Authentication-Results",
    "MIME-Version",
]
NASTY = [
    "=?utf-8?q?=0D=0A?=",
    "=?bogus?b?!!!?=",
    "=?utf-8?b?" + "A" * 7 + "?=",
    "<>",
    "<",
    '"',
    "multipart/mixed; boundary=",
    'multipart/mixed; boundary=""',
    "text/plain; charset=x-nope",
    "message/rfc822",
    "multipart/report; report-type=",
    "base64",
    "quoted-printable",
    "8bit",
    "attachment; filename*=utf-8''%ff%fe",
    "(((",
    ";;;",
    "\\",
    "a@",
    "@b",
    ",,,",
    "mx; dkim=; dmarc",
    "Thu, 99 Foo 99999 99:99:99 +9999",
]

header_value = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=80),
    st.lists(st.sampled_from(NASTY), max_size=4).map(" ".join),
)
header = st.tuples(st.sampled_from(HEADER_NAMES), header_value)
body = st.one_of(st.binary(max_size=400), st.text(max_size=400).map(lambda t: t.encode("utf-8")))


def build(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    head = "".join(f"{n}: {v}\r\n" for n, v in headers).encode("utf-8", "surrogateescape")
    return head + b"\r\n" + payload


def check(raw: bytes, max_bytes: int = 2_000) -> None:
    try:
        msg = parse_message(raw, trusted_authserv_id="mx.example", max_bytes=max_bytes)
    except MailParseError:
        return
    # when it parses, the invariants of the record hold
    assert msg.message_id.startswith("<") and msg.message_id.endswith(">")
    for value in (msg.subject, msg.from_name or "", msg.from_addr or "", msg.message_id):
        assert "\r" not in value and "\n" not in value
    assert msg.size == len(raw)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.lists(header, max_size=12), body)
def test_random_headers_and_body(headers: list[tuple[str, str]], payload: bytes) -> None:
    check(build(headers, payload))


@FUZZ
@given(st.binary(max_size=2_000))
def test_random_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 4000), st.binary(min_size=0, max_size=8)), max_size=6),
    st.integers(0, 4000),
)
def test_mangled_samples(sample: bytes, edits: list[tuple[int, bytes]], cut: int) -> None:
    raw = bytearray(sample[: max(cut, 1)] if cut < len(sample) // 2 else sample)
    for pos, data in edits:
        pos = pos % (len(raw) + 1)
        raw[pos : pos + len(data)] = data
    check(bytes(raw), max_bytes=len(sample))


@FUZZ
@given(st.integers(1, 60), st.sampled_from(["mixed", "alternative", "related"]))
def test_deep_nesting(depth: int, kind: str) -> None:
    inner = EmailMessage()
    inner.set_content("innermost")
    for _ in range(depth):
        outer = EmailMessage()
        outer.make_mixed() if kind == "mixed" else outer.make_alternative()
        outer.attach(inner)
        inner = outer
    check(inner.as_bytes(), max_bytes=1_000_000)


@given(st.text(max_size=500))
def test_strip_quotes_never_raises_and_never_grows(text: str) -> None:
    out = strip_quotes(text)
    assert len(out) <= len(text)
