"""Raw RFC 5322 bytes to a `ParsedMessage` (pure; never awaits, never raises but MailParseError).

The stdlib parser does the MIME work; `mail.headers` and `mail.body` read the result tolerantly,
because customer mail arrives with every kind of damage. It runs with `policy.compat32`: we
decode every header ourselves, and `policy.default` re-parsed Content-Type on each access,
which cost two thirds of the parse time (measured with tests/bench/bench_imap.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

from mail.body import AttachmentInfo, extract_body
from mail.errors import MailParseError
from mail.headers import (
    AuthVerdicts,
    HeaderIndex,
    address,
    addresses,
    all_header_raw,
    all_header_texts,
    auth_verdicts,
    header_raw,
    header_text,
    message_ids,
)
from mail.quotes import clean_subject, strip_quotes

SYNTHETIC_DOMAIN = "dsr.invalid"
# Headers kept verbatim (decoded, one line) for robot detection; names in lower case.
ROBOT_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "x-failed-recipients",
    "list-unsubscribe",
    "list-post",
    "list-help",
    "x-loop",
    "feedback-id",
    "x-mailer",
    "x-dsr-case",
)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What the desk needs to know about one inbound e-mail.

    `text` is the full readable body for the record; `body_for_classification` is the cleaned
    subject, a blank line, and the body without quotes and signature. Addresses are as sent.
    `auth` is None unless a trusted Authentication-Results header was present. For an oversize
    message only headers are read: `oversize` is True and the body fields are empty.
    """

    message_id: str
    message_id_synthetic: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_addr: str | None
    from_name: str | None
    to_addrs: tuple[str, ...]
    cc_addrs: tuple[str, ...]
    reply_to: str | None
    date: datetime | None
    return_path: str | None
    null_return_path: bool
    auto_submitted: str | None
    precedence: str | None
    list_id: str | None
    content_type: str
    report_type: str | None
    auth: AuthVerdicts | None
    text: str
    body_for_classification: str
    html_present: bool
    attachments: tuple[AttachmentInfo, ...]
    language_hint: str | None
    size: int
    oversize: bool
    sha256: str
    extra_headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """One of the `ROBOT_HEADERS` kept for robot detection, or None."""
        wanted = name.lower()
        return next((v for k, v in self.extra_headers if k == wanted), None)


def parse_message(
    raw: bytes,
    *,
    trusted_authserv_id: str | None,
    max_bytes: int,
    declared_size: int | None = None,
) -> ParsedMessage:
    """Parse one raw message.

    Args:
        raw: the message exactly as received.
        trusted_authserv_id: authserv-id of our own receiving MTA (`DSR_TRUSTED_AUTHSERV_ID`);
            Authentication-Results from anyone else are ignored.
        max_bytes: larger messages are not refused here: only their headers are read and
            `oversize` is set, so the caller can record the refusal.
        declared_size: the full size when `raw` holds only the header (an IMAP intake that
            did not fetch an oversize body); counts for `size` and `oversize`.

    Returns:
        The parsed message.

    Raises:
        MailParseError: `raw` is not bytes, is empty, or the parser failed in a way the
            tolerant readers could not absorb. Keep the raw message in quarantine.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise MailParseError(f"expected the raw message as bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise MailParseError("the message is empty (0 bytes after whitespace); nothing to parse")
    try:
        return _parse(raw, trusted_authserv_id, max_bytes, declared_size)
    except MailParseError:
        raise
    except Exception as exc:  # the stdlib parser has many failure modes on hostile input
        digest = hashlib.sha256(raw).hexdigest()[:16]
        raise MailParseError(
            f"message sha256:{digest}… ({len(raw)} bytes) could not be parsed "
            f"({type(exc).__name__}); it is kept in quarantine for staff to read"
        ) from exc


def _parse(
    raw: bytes, trusted: str | None, max_bytes: int, declared_size: int | None
) -> ParsedMessage:
    size = max(len(raw), declared_size or 0)
    oversize = size > max_bytes
    parser = BytesParser(policy=policy.compat32)
    msg: Message = parser.parsebytes(raw, headersonly=oversize)
    digest = hashlib.sha256(raw).hexdigest()
    headers = HeaderIndex(msg)

    ids = message_ids(header_text(headers, "Message-ID"))
    message_id = ids[0] if ids else f"<{digest}@{SYNTHETIC_DOMAIN}>"
    subject = header_text(headers, "Subject") or ""
    from_name, from_addr = address(header_raw(headers, "From"))
    _, reply_to = address(header_raw(headers, "Reply-To"))
    return_path_raw = header_raw(headers, "Return-Path")
    _, return_path = address(return_path_raw)
    null_return_path = return_path_raw is not None and return_path_raw.strip() in ("<>", "")

    attachments: tuple[AttachmentInfo, ...] = ()
    if oversize:
        text, html_present, part_lang = "", False, None
    else:
        body = extract_body(msg)
        text, html_present = body.text, body.html_present
        attachments, part_lang = body.attachments, body.language
    stripped = strip_quotes(text) if text else ""
    cleaned = clean_subject(subject)
    for_classification = f"{cleaned}\n\n{stripped}".strip() if not oversize else cleaned

    extra = tuple(
        (name, value) for name in ROBOT_HEADERS if (value := header_text(headers, name)) is not None
    )
    ctype, report_type = _content_type(msg)
    return ParsedMessage(
        message_id=message_id,
        message_id_synthetic=not ids,
        in_reply_to=message_ids(header_text(headers, "In-Reply-To")),
        references=message_ids(" ".join(all_header_texts(headers, "References"))),
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=addresses(all_header_raw(headers, "To")),
        cc_addrs=addresses(all_header_raw(headers, "Cc")),
        reply_to=reply_to,
        date=_date(header_text(headers, "Date")),
        return_path=return_path,
        null_return_path=null_return_path,
        auto_submitted=_token(header_text(headers, "Auto-Submitted")),
        precedence=_token(header_text(headers, "Precedence")),
        list_id=header_text(headers, "List-Id"),
        content_type=ctype,
        report_type=report_type,
        auth=auth_verdicts(all_header_texts(headers, "Authentication-Results"), trusted),
        text=text,
        body_for_classification=for_classification,
        html_present=html_present,
        attachments=attachments,
        language_hint=_token(header_text(headers, "Content-Language") or part_lang),
        size=size,
        oversize=oversize,
        sha256=digest,
        extra_headers=extra,
    )


def _token(value: str | None) -> str | None:
    """The first token of a header like Auto-Submitted or Precedence, lower case."""
    if not value:
        return None
    first = value.split(";")[0].split(",")[0].strip().lower()
    return first or None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _content_type(msg: Message) -> tuple[str, str | None]:
    try:
        ctype = msg.get_content_type()
        report = msg.get_param("report-type")
    except Exception:  # unusable Content-Type: RFC 2045 says text/plain
        return "text/plain", None
    return ctype, (str(report).lower() if isinstance(report, str) else None)
