"""Message bodies to plain text: part selection, charset repair, HTML to text, attachment list.

Pure functions over an already parsed `email.message.Message`. Attachments are listed, never
decoded for their content beyond measuring their size.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message

import html2text

# A customer's mail is rarely deeply nested; anything deeper is hostile or broken.
MAX_DEPTH = 20
MAX_PARTS = 500


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """An attachment as listed in the record: its name, declared type and decoded size."""

    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Body:
    """The readable text of a message and what else it carried."""

    text: str
    html_present: bool
    attachments: tuple[AttachmentInfo, ...]
    language: str | None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, repairing a wrong or unknown one.

    Tries the declared charset, then UTF-8, then Windows-1252 with replacement characters (the
    usual mislabelled "iso-8859-1" mail), so this never fails.
    """
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            codecs.lookup(candidate)
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("cp1252", errors="replace")


def html_to_text(html: str) -> str:
    """Readable text from an HTML body, links kept inline, no line wrapping."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.unicode_snob = True
    return str(converter.handle(html)).strip()


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # broken transfer encoding: keep whatever text is there
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else b""


def _nested_size(part: Message) -> int:
    """Approximate size of a nested message: the sum of its parts' encoded payloads.

    Cheaper than serialising it again, and exact enough for the record.
    """
    total = 0
    for sub in part.walk():
        payload = sub.get_payload()
        if isinstance(payload, str | bytes):
            total += len(payload)
    return total


def _charset(part: Message) -> str | None:
    try:
        value = part.get_content_charset()
    except Exception:  # a mangled Content-Type parameter
        return None
    return value if isinstance(value, str) else None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # a mangled RFC 2231 parameter
        return None
    if not name:
        return None
    return " ".join(_decode_words(str(name)).split()) or None


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words in a parameter (common, though not standard, in filenames)."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # broken encoded words: keep the raw text
        return value


def _is_attachment(part: Message, ctype: str) -> bool:
    disposition = str(part.get("Content-Disposition", "") or "").split(";")[0].strip().lower()
    if disposition == "attachment" or _filename(part):
        return True
    return not ctype.startswith("text/")


def extract_body(msg: Message) -> Body:
    """Walk a message and collect its text, the HTML flag and the attachment list.

    In a multipart/alternative the plain part wins; an HTML-only message is converted to text.

    Args:
        msg: a message parsed by the stdlib parser.

    Returns:
        The body; empty text when the message has no readable part.
    """
    plain: list[str] = []
    html: list[str] = []
    attachments: list[AttachmentInfo] = []
    language: list[str] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop(0)
        seen += 1
        ctype = _ctype(part)
        if ctype.startswith("message/"):  # forwarded/returned messages, reports: listed, not read
            attachments.append(AttachmentInfo(_filename(part), ctype, _nested_size(part)))
            continue
        if part.is_multipart():
            children = part.get_payload()
            if isinstance(children, list) and depth < MAX_DEPTH:
                stack[0:0] = [(c, depth + 1) for c in children if isinstance(c, Message)]
            continue
        if _is_attachment(part, ctype):
            attachments.append(AttachmentInfo(_filename(part), ctype, len(_payload(part))))
            continue
        text = decode_bytes(_payload(part), _charset(part))
        if part.get("Content-Language"):
            language.append(str(part.get("Content-Language")))
        (html if ctype == "text/html" else plain).append(text)
    if plain:
        text = "\n\n".join(t.strip() for t in plain if t.strip())
    else:
        text = "\n\n".join(html_to_text(h) for h in html if h.strip())
    return Body(
        text=_normalise(text),
        html_present=bool(html),
        attachments=tuple(attachments),
        language=language[0] if language else None,
    )


def _ctype(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # unusable Content-Type: RFC 2045 says treat as text/plain
        return "text/plain"


def _normalise(text: str) -> str:
    """Unix newlines, no NULs, no trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()
