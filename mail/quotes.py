"""Strip quoted replies and signatures from a plain-text body, for classification only (pure).

The full text is always kept for the record; this only decides what the classifier reads.
Attribution lines are recognised in English, Dutch, German, French and Spanish.
"""

from __future__ import annotations

import re

# "On Mon, 1 Jan 2026, Alice <a@b> wrote:" and its translations; may wrap over two lines.
_VERB = r"(wrote|schreef|schrieb|a\s+écrit|escribió)\s*:\s*$"
_ATTRIBUTION = re.compile(rf"^\s*((on|op|am|le|el)\b.*|.*@.*)\b{_VERB}", re.IGNORECASE)
_ATTRIBUTION_START = re.compile(r"^\s*(on|op|am|le|el)\b", re.IGNORECASE)
# Outlook-style separators and header blocks of a forwarded or quoted message.
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|ursprüngliche nachricht|oorspronkelijk bericht"
    r"|message d'origine|mensaje original|forwarded message|weitergeleitete nachricht"
    r"|doorgestuurd bericht|message transféré|mensaje reenviado)\s*-{2,}"
    r"|_{10,})\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(
    r"^\s*(from|von|van|de|sent|gesendet|verzonden|envoyé|enviado)\s*:\s*\S", re.IGNORECASE
)
_MOBILE = re.compile(
    r"^\s*(sent from my|verzonden vanaf mijn|von meinem .* gesendet|envoyé de mon|enviado desde mi"
    r"|get outlook for)\b",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$")
_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|aw|antw|fw|fwd|wg|tr|rv|sv|vs)\s*(\[\d+\])?\s*:\s*|\[dsr-\d+\]\s*)+", re.IGNORECASE
)


def strip_quotes(text: str) -> str:
    """The author's own words: quoted lines, attributions, forwarded blocks and signature removed.

    Args:
        text: plain text with Unix newlines.

    Returns:
        The stripped text; when stripping would leave nothing (a bare forward), the whole text
        without `>` lines, so the classifier still has something to read.
    """
    result = own_lines(text)
    if result:
        return result
    return "\n".join(x for x in text.split("\n") if not x.lstrip().startswith(">")).strip()


def own_lines(text: str) -> str:
    """Only the author's own lines, with no fallback: empty for a bare forward or a reply that
    only quotes. What a person typed, for deciding what they said (a code, a refusal).

    Args:
        text: plain text with Unix newlines.
    """
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) or _SEPARATOR.match(line) or _MOBILE.match(line):
            break
        if len(line) < 300 and _ATTRIBUTION.match(line):
            break
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        # "On Mon, 1 Jan 2026 at 10:00, Alice Example\n<alice@example.com> wrote:" (wrapped)
        if (
            nxt
            and len(line) + len(nxt) < 300
            and _ATTRIBUTION_START.match(line)
            and _ATTRIBUTION.match(line + " " + nxt)
        ):
            break
        if _HEADER_BLOCK.match(line) and _HEADER_BLOCK.match(nxt):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def clean_subject(subject: str) -> str:
    """A subject without reply/forward prefixes and our `[DSR-n]` tag, for classification."""
    return _SUBJECT_PREFIX.sub("", subject).strip()
