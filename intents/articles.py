"""Which data-subject right a letter cites by article number, in any of our languages.

A letter that names "Art. 16 DSGVO", "článku 17 GDPR", "15. cikk", "第15条" or "المادة 17" asks
for that right whatever its tone: the citation is the one cue that does not change with the
genre. Written requests from lawyers, consumer groups and printed forms cite the article and
often add a deadline and a threat to complain to the authority; the classifiers read that
register as a complaint (``concern``) when they have seen few such letters (README, model card:
leave-one-genre-out). The citation is language-independent, so it is read here by pattern, and
the mixed scores of the cited intents are raised by a share tuned on held-out messages
(:func:`raise_cited`; the ``article_cue`` component in ``intents.cue_component``).

GDPR articles: 15 and 20 (access, portability) → ``see``, 16 → ``change``, 17 → ``delete``.
Art. 21 is left out: an objection is ``concern`` in DESIGN.md's intent table, and
``intents.rights`` tells an objection to direct marketing from another one. National laws
whose article numbers differ are read only with the law's name in the text (:data:`NATIONAL`).
A range ("Art. 15–22") or three or more rights cited at once is a list of rights, not a
request, and raises nothing. Pure.
"""

import re
from collections.abc import Mapping, Sequence

from intents.labels import LABELS

#: GDPR article number → the intent that asks for it.
GDPR: Mapping[int, str] = {15: "see", 16: "change", 17: "delete", 20: "see"}

#: National data-protection laws with their own numbering: a pattern for the law's name and
#: article number → intent. Read instead of :data:`GDPR` when the name is in the text.
NATIONAL: tuple[tuple[re.Pattern[str], Mapping[int, str]], ...] = (
    # Japan, 個人情報の保護に関する法律 (APPI, numbering since 2022): disclosure, correction,
    # cessation of use and erasure.
    (re.compile(r"個人情報(?:の)?保護(?:に関する)?法"), {33: "see", 34: "change", 35: "delete"}),
    # China, 个人信息保护法 (PIPL): access and copy, correction, deletion.
    (re.compile(r"个人信息保护法|個人信息保護法"), {45: "see", 46: "change", 47: "delete"}),
    # Korea, 개인정보 보호법 (PIPA): access (Art. 36 covers correction *and* deletion).
    (re.compile(r"개인정보\s*보호법"), {35: "see"}),
    # Germany, BDSG: § 34 access (also the pre-GDPR Auskunft).
    (re.compile(r"\bBDSG\b"), {34: "see"}),
    # Russia, 152-ФЗ: Art. 14 access (its Art. 15 is direct marketing, not a right to ask).
    (re.compile(r"152\s*-?\s*ФЗ", re.IGNORECASE), {14: "see"}),
)

# Any number of a right in any table (a cheap first look before the citation patterns).
_CANDIDATE = re.compile(r"(?<!\d)(?:1[4-7]|20|3[3-5]|4[5-7])(?!\d)")

#: More distinct rights than this cited at once is a list of rights, not a request.
MAX_CITED = 2

# Words for "article" that stand before the number (Latin, Cyrillic and Greek scripts). Matched
# case-folded, at a word start; a trailing dot is allowed ("Art.", "čl.", "ст.").
_BEFORE_WORDS = (
    r"art|artt|art[iíy]\w+|čl|člán\w*|član\w*|člen\w*"
    r"|ст|стат\w*|член\w*|чл|άρθρ\w*|αρθρ\w*|αρθ|arthr\w*|madde\w*"
)
# Words that follow the number (Finnish, Hungarian, Lithuanian, Turkish, Estonian).
_AFTER_WORDS = r"artikla\w*|cikk\w*|straipsn\w*|str|madde\w*|paragrahv\w*"
# Separators inside a list of numbers: "Art. 15 und 17", "art. 15, 16 e 17", "Art. 15/20" — a
# comma, a slash or "and"/"or" in our languages (not any short word: "Art. 17 RGPD 15 jours").
_AND = (
    r"and|or|und|oder|et|ou|y|o|e|i|en|of|og|och|eller|ja|tai|és|vagy|ir|ar|ve|veya|a|oraz|lub"
    r"|nebo|ili|și|si|sau|и|или|і|та|або|και|ή|и/или"
)
_JOIN = rf"(?:\s*(?:,|/|&|\+)\s*(?:(?:{_AND})\s+)?|\s+(?:{_AND})\s+)"
_NUMBER = r"\d{1,3}(?!\d)(?![.,]\d)"
_BEFORE = re.compile(
    rf"(?<!\w)(?:{_BEFORE_WORDS})\.?\s*\(?\s*(?P<nums>{_NUMBER}(?:{_JOIN}{_NUMBER})*)"
    rf"(?P<range>\s*[-–—]\s*\d)?",
    re.IGNORECASE,
)
# "§ 34 BDSG": a section of a national law, read only with that law's table.
_SECTION = re.compile(rf"§\s*(?P<nums>{_NUMBER})")
_AFTER = re.compile(rf"(?<![\d.])(?P<nums>{_NUMBER})\.?\s*(?:{_AFTER_WORDS})(?!\w)", re.IGNORECASE)
_CJK = re.compile(r"(?:第|제)\s*(?P<nums>\d{1,3})\s*(?:条|條|조)")
_ARABIC = re.compile(r"(?:الماد[ةه]|مادة)\s*\(?\s*(?P<nums>\d{1,3})(?!\d)")
_OTHER_DIGITS = re.compile(r"[٠-٩۰-۹０-９]")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９", "0123456789" * 3)


def _numbers(text: str, sections: bool) -> list[int]:
    """Every article number the text cites (ranges and their ends left out); with
    ``sections``, "§ N" too."""
    found: list[int] = []
    if sections:
        found += [int(match.group("nums")) for match in _SECTION.finditer(text)]
    for match in _BEFORE.finditer(text):
        if match.group("range"):
            continue
        found += [int(n) for n in re.findall(r"\d+", match.group("nums"))]
    for pattern in (_AFTER, _CJK, _ARABIC):
        found += [int(match.group("nums")) for match in pattern.finditer(text)]
    return found


def cited_intents(text: str) -> tuple[str, ...]:
    """The intents whose article the text cites, in label order; empty when it cites none, or
    more than :data:`MAX_CITED` of them (a list of rights)."""
    if _OTHER_DIGITS.search(text):
        text = text.translate(_DIGITS)
    if not _CANDIDATE.search(text):
        return ()  # most messages: no number any table knows, so no citation
    table, national = GDPR, False
    for law, articles in NATIONAL:
        if law.search(text):
            table, national = articles, True
            break
    cited = {table[n] for n in _numbers(text, national) if n in table}
    if len(cited) > MAX_CITED:
        return ()
    return tuple(label for label in LABELS if label in cited)


def raise_cited(
    scores: Mapping[str, float], cited: Sequence[str], weight: float
) -> dict[str, float]:
    """``scores`` with each cited intent's score moved ``weight`` of the way to 1.

    ``s + weight * (1 - s)``: a score stays in [0, 1], and a cited intent the classifiers
    already hold sure of moves little. Other labels keep their scores.
    """
    out = {label: float(scores.get(label, 0.0)) for label in LABELS}
    if weight <= 0.0:
        return out
    for label in cited:
        if label in out:
            out[label] += weight * (1.0 - out[label])
    return out
