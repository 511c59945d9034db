"""Read an ``.eml`` file into the text the classifier sees: subject, blank line, text body.

Stdlib ``email`` with ``policy.default``; HTML-only mail is turned into text with html2text.
"""

from email import message_from_bytes, policy
from pathlib import Path

import html2text


def eml_text(raw: bytes) -> str:
    """Subject and body text of a raw RFC 822 message (never raises on malformed mail).

    Args:
        raw: the message bytes.

    Returns:
        ``"<subject>\\n\\n<body>"``; the body prefers text/plain, then text/html as text.
    """
    message = message_from_bytes(raw, policy=policy.default)
    try:
        subject = str(message.get("subject", "") or "")
    except (ValueError, TypeError, IndexError):  # broken encoded-words
        subject = ""
    body = ""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is not None:
            content = part.get_content()
            body = content if isinstance(content, str) else ""
            if part.get_content_subtype() == "html":
                converter = html2text.HTML2Text()
                converter.ignore_links = True
                converter.ignore_images = True
                body = converter.handle(body)
    except (LookupError, ValueError, TypeError, AssertionError, KeyError):
        body = ""
    return f"{subject}\n\n{body}".strip()


def read_eml(path: Path) -> str:
    """:func:`eml_text` of a file.

    Raises:
        OSError: the file cannot be read.
    """
    return eml_text(path.read_bytes())
