"""What a reply to a challenge says besides a code: a refusal ("NO", "that wasn't me", "I did
not make this request"), a question, or an echo of our own challenge (pure rules, no model).

Small multilingual rule sets over the customer's own lines: en nl de fr es, it pt pl sv da
nb fi tr, and ro ru cs hr el. A false refusal only closes a case without action; a missed one
still needs the code.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache

__all__ = ["REFUSALS", "Stance", "echoes_challenge", "stance"]


class Stance(StrEnum):
    """What the words of a reply amount to, code aside."""

    REFUSAL = "refusal"
    QUESTION = "question"
    NEUTRAL = "neutral"


#: A bare "no" as the whole first line, or followed by punctuation or "thanks".
_NO_WORDS = (
    r"no|nope|nah|nee|neen|nein|nö|non|nej|nei|ei|nie|não|nao|hayır|hayir|niet|nu|нет|ne|όχι|οχι"
)
_BARE_NO = re.compile(
    rf"^[\W_]*(?:{_NO_WORDS})\s*(?:$|[.!,;:\-–—)]|(?:,\s*)?(?:thanks?|thank you|danke|merci|"
    r"gracias|bedankt|dank je|grazie|obrigad[oa]|dzięki|tack|tak|takk|kiitos|teşekkürler"
    r"|mul[țţ]umesc|multumesc|спасибо|děkuji|díky|hvala|ευχαριστώ|ευχαριστω)\b)",
    re.IGNORECASE,
)

#: Phrases that deny the request, per language (regular expressions, case-insensitive).
REFUSALS: dict[str, tuple[str, ...]] = {
    "en": (
        r"(?:was|is|it'?s|that'?s|this is)\s+not\s+me",
        r"wasn'?t\s+me",
        r"not\s+(?:by\s+)?me",
        r"(?:did|do|have|had)\s*(?:n'?t|\s+not|\s+never)\s+(?:\w+\s+){0,2}"
        r"(?:make|made|ask|asked|request|requested|send|sent|submit|submitted|authori[sz]e)",
        r"never\s+(?:\w+\s+){0,2}(?:asked|requested|made|sent|submitted|wanted)",
        r"(?:don'?t|do\s+not)\s+(?:delete|change|remove|erase|proceed|touch|do\s+(?:it|anything|that))",
        r"not\s+(?:my|our)\s+request",
        r"someone\s+else",
        r"(?:fraud|scam|phishing|hack(?:ed|er)?|impersonat\w*|not\s+authori[sz]ed)",
        r"\bcancel\b",
        r"(?:what|which)\s+request",
    ),
    "nl": (
        r"(?:was|ben)\s+ik\s+niet",
        r"niet\s+(?:door\s+)?mij",
        r"(?:heb|had)\s+ik\s+(?:niet|nooit)",
        r"ik\s+heb\s+(?:\w+\s+){0,3}(?:niet|nooit)\s+(?:\w+\s+){0,2}(?:aangevraagd|gevraagd|gedaan"
        r"|verzocht|gestuurd)",
        r"nooit\s+(?:\w+\s+){0,2}(?:aangevraagd|gevraagd|verzocht)",
        r"niet\s+(?:verwijderen|wijzigen|aanpassen|veranderen)",
        r"geen\s+verzoek",
        r"iemand\s+anders",
        r"(?:fraude|oplichting|phishing|gehackt)",
        r"annuleer",
    ),
    "de": (
        r"(?:war|bin)\s+ich\s+nicht",
        r"nicht\s+ich",
        r"nicht\s+(?:von\s+)?mir",
        r"das\s+war\s+ich\s+nicht",
        r"(?:habe|hab)\s+(?:ich\s+)?(?:\w+\s+){0,3}(?:nicht|nie|niemals|keine?n?)\s+(?:\w+\s+){0,2}"
        r"(?:beantragt|angefordert|gestellt|verlangt|geschickt|gesendet|gemacht|angefragt)",
        r"nie\s+(?:\w+\s+){0,2}(?:beantragt|angefordert|gestellt|verlangt)",
        r"nicht\s+(?:löschen|ändern|entfernen)",
        r"keine\s+anfrage",
        r"jemand\s+anders",
        r"(?:betrug|phishing|gehackt)",
        r"\b(?:stornieren|abbrechen)\b",
    ),
    "fr": (
        r"(?:ce\s+n'?est|c'?est|c'?était|ce\s+n'?était)\s+pas\s+moi",
        r"pas\s+(?:de\s+)?moi",
        r"je\s+n'?ai\s+(?:\w+\s+){0,2}(?:pas|jamais|rien)\s+(?:\w+\s+){0,2}"
        r"(?:fait|demandé|envoyé|sollicité)",
        r"jamais\s+(?:\w+\s+){0,2}demandé",
        r"ne\s+(?:supprimez|modifiez|changez|faites|touchez|effacez)\s+(?:pas|rien)",
        r"pas\s+de\s+ma\s+part",
        r"quelqu'?un\s+d'?autre",
        r"(?:fraude|arnaque|phishing|piraté)",
        r"\bannule[rz]?\b",
    ),
    "es": (
        r"no\s+(?:fui|he\s+sido|era|soy|es)\s+yo",
        r"no\s+(?:lo\s+)?(?:he\s+)?(?:hice|hecho|pedí|pedido|solicité|solicitado|envié|enviado)",
        r"nunca\s+(?:\w+\s+){0,2}(?:pedí|solicité|hice|envié)",
        r"no\s+(?:borren|eliminen|cambien|borre|elimine|cambie|hagan)",
        r"no\s+es\s+m[ií]a",
        r"otra\s+persona",
        r"(?:fraude|estafa|phishing|hackeado)",
        r"\bcancel(?:en|ar)\b",
    ),
    "it": (
        r"non\s+(?:sono\s+stat[oa]|ero|sono)\s+io",
        r"non\s+(?:l'?ho\s+|ho\s+)(?:mai\s+)?(?:fatto|richiesto|chiesto|inviato)",
        r"mai\s+(?:\w+\s+){0,2}(?:richiesto|chiesto)",
        r"non\s+(?:cancellate|eliminate|modificate)",
        r"(?:truffa|frode|phishing)",
    ),
    "pt": (
        r"não\s+(?:fui|era|sou)\s+eu",
        r"não\s+(?:o\s+)?(?:fiz|pedi|solicitei|enviei)",
        r"nunca\s+(?:\w+\s+){0,2}(?:pedi|solicitei|fiz)",
        r"não\s+(?:apaguem|eliminem|alterem|mudem)",
        r"(?:fraude|golpe|phishing)",
    ),
    "pl": (
        r"to\s+nie\s+(?:by[łl]\w*\s+)?ja",
        r"nie\s+(?:prosi[łl]\w*|wysy[łl]a[łl]\w*|sk[łl]ada[łl]\w*|zleca[łl]\w*|wnosi[łl]\w*)",
        r"nie\s+usuwajcie",
        r"(?:oszustwo|phishing)",
    ),
    "sv": (
        r"inte\s+jag",
        r"det\s+var\s+inte\s+jag",
        r"jag\s+har\s+(?:inte|aldrig)\s+(?:\w+\s+){0,2}(?:bett|begärt|skickat|gjort)",
        r"radera\s+inte",
        r"(?:bedrägeri|nätfiske)",
    ),
    "da": (
        r"ikke\s+mig",
        r"jeg\s+har\s+(?:ikke|aldrig)\s+(?:\w+\s+){0,2}(?:bedt|anmodet|sendt|lavet)",
        r"slet\s+ikke",
        r"(?:svindel|bedrageri)",
    ),
    "nb": (
        r"ikke\s+meg",
        r"jeg\s+har\s+(?:ikke|aldri)\s+(?:\w+\s+){0,2}(?:bedt|bestilt|sendt|gjort)",
        r"ikke\s+slett",
        r"(?:svindel|bedrageri)",
    ),
    "fi": (
        r"en\s+(?:ollut\s+)?minä",
        r"se\s+en\s+ollut\s+minä",
        r"en\s+ole\s+(?:\w+\s+){0,2}(?:pyytänyt|lähettänyt|tehnyt)",
        r"älkää\s+poistako",
        r"(?:huijaus|petos)",
    ),
    "tr": (
        r"ben\s+değilim",
        r"ben\s+(?:yapmadım|istemedim)",
        r"talep\s+etmedim",
        r"istemedim",
        r"silmeyin",
        r"(?:dolandırıcılık|sahtekarlık)",
    ),
    "ro": (
        r"nu\s+(?:am\s+fost|eram|sunt)\s+eu",
        r"n-am\s+fost\s+eu",
        r"(?:nu\s+am|n-am)\s+(?:\w+\s+){0,2}(?:f[ăa]cut|cerut|solicitat|trimis|depus)",
        r"nu\s+(?:\w+\s+)?(?:[șşs]terge[țţt]i|modifica[țţt]i|schimba[țţt]i|face[țţt]i\s+nimic)",
        r"(?:fraud[ăa]|[îi]n[șşs]el[ăa]torie|phishing)",
    ),
    "ru": (
        r"это\s+(?:был[аи]?\s+)?не\s+я",
        r"(?:был[аи]?)\s+не\s+я",
        r"не\s+(?:\w+\s+){0,2}(?:делал|сделал|просил|попросил|отправлял|отправил|подавал|подал"
        r"|запрашивал|запросил|заказывал|заказал)а?",
        r"(?:ничего\s+)?не\s+(?:удаляйте|меняйте|изменяйте|трогайте|делайте)",
        r"(?:мошенничество|мошенники|фишинг)",
    ),
    "cs": (
        r"(?:nebyl[ai]?|nejsem)\s+(?:jsem\s+)?(?:to\s+)?já",
        r"jsem\s+(?:\w+\s+){0,2}ne(?:podal|[žz][áa]dal|zadal|poslal|odeslal|vytvo[řr]il|po[žz][áa]dal)a?",
        r"ne(?:podal|[žz][áa]dal|zadal|poslal|odeslal|vytvo[řr]il|po[žz][áa]dal)a?\s+jsem",
        r"(?:nic\s+)?(?:nema[žz]te|nem[ěe][ňn]te|nemazejte|neodstra[ňn]ujte)",
        r"(?:podvod|phishing)",
    ),
    "hr": (
        r"nisam\s+(?:to\s+)?(?:bio\s+|bila\s+)?ja",
        r"nisam\s+(?:\w+\s+){0,2}(?:poslao|poslala|podnio|podnijela|napravio|napravila"
        r"|(?:za)?tra[žz]io|(?:za)?tra[žz]ila|zahtijevao|zahtijevala)",
        r"(?:ni[šs]ta\s+)?ne\s+(?:bri[šs]ite|mijenjajte|dirajte)",
        r"(?:prijevara|prevara|phishing)",
    ),
    "el": (
        r"δεν\s+(?:ήμουν|ημουν|ήταν|ηταν)\s+(?:εγώ|εγω)",
        r"(?:όχι|οχι)\s+(?:εγώ|εγω)",
        r"δεν\s+(?:το\s+)?(?:έκανα|εκανα|ζήτησα|ζητησα|υπέβαλα|υπεβαλα|έστειλα|εστειλα)",
        r"δεν\s+(?:το\s+)?(?:έχω|εχω)\s+(?:\w+\s+)?(?:κάνει|κανει|ζητήσει|ζητησει|υποβάλει"
        r"|υποβαλει|στείλει|στειλει)",
        r"μη(?:ν)?\s+(?:διαγράψετε|διαγραψετε|σβήσετε|σβησετε|αλλάξετε|αλλαξετε|αγγίξετε"
        r"|αγγιξετε|κάνετε\s+τίποτα|κανετε\s+τιποτα)",
        r"(?:απάτη|απατη|phishing)",
    ),
}

_QUESTION_WORDS = (
    r"what|why|who|how come|wat|waarom|wie|was|warum|wieso|wer|quoi|pourquoi|qui|qu'est-ce"
    r"|qué|que|por qué|quién|cosa|perché|chi|o que|porquê|quem|co|dlaczego|kto|vad|varför|vem"
    r"|hvad|hvorfor|hvem|hva|mitä|miksi|kuka|ne|neden|kim|ce|de ce|cine|что|почему|зачем|кто"
    r"|proč|kdo|što|šta|zašto|tko|τι|γιατί|ποιος|ποια"
)
#: A lone question word, then nothing but spaces and question marks (";" is the Greek one).
_QUESTION_START = re.compile(rf"^[\W_]*(?:{_QUESTION_WORDS})[\s?!.,;\u037e]*$", re.IGNORECASE)

#: Our own challenge's sentence that carries the code, as the templates word it: a reply whose
#: own lines repeat it is a copy of the challenge (an auto-responder), not a person typing.
_ECHO = re.compile(
    r"reply\s+with\s+the\s+code|antwoord\s+dan\s+met\s+de\s+code|antworten\s+Sie\s+mit\s+dem\s+"
    r"Code|répondez\s+avec\s+le\s+code|responda\s+con\s+el\s+código"
    r"|Someone\s+asked\s+us|Iemand\s+heeft\s+ons|Jemand\s+hat\s+uns|Quelqu'un\s+nous\s+a"
    r"|Alguien\s+nos\s+(?:ha|pidió)"
    r"|svara\s+med\s+koden|risponda\s+con\s+il\s+codice|responda\s+com\s+o\s+código"
    r"|răspundeți\s+cu\s+codul|odpowiedzieć,?\s+podając\s+kod|ответьте,?\s+указав\s+код"
    r"|odpovězte\s+a\s+uveďte\s+kód|odgovorite\s+kodom|απαντήστε\s+με\s+τον\s+κωδικό"
    r"|Någon\s+bad\s+oss|Qualcuno\s+ci\s+ha\s+chiesto|Alguém\s+nos\s+pediu|Cineva\s+ne-a\s+cerut"
    r"|ktoś\s+poprosił\s+nas|кто-то\s+(?:\S+\s+){0,3}попросил\s+нас|nás\s+někdo"
    r"|od\s+nas\s+zatražio|Κάποιος\s+μας\s+ζήτησε",
    re.IGNORECASE,
)


@cache
def _refusal_re() -> re.Pattern[str]:
    parts = [p for patterns in REFUSALS.values() for p in patterns]
    return re.compile(r"(?<![^\W_])(?:" + "|".join(parts) + r")(?![^\W_])", re.IGNORECASE)


def _normal(text: str) -> str:
    """Curly apostrophes as straight ones, runs of whitespace as one space (per line)."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def stance(text: str) -> Stance:
    """Whether the customer's own lines refuse, ask, or neither.

    Args:
        text: the customer's own words (subject and body without quotes or signature).

    Returns:
        REFUSAL for a bare "no" on the first line or a denial in any known language;
        QUESTION for a question mark or a lone question word; NEUTRAL otherwise.
    """
    own = _normal(text)
    lines = [line for line in own.splitlines() if line.strip()]
    if lines and _BARE_NO.match(lines[0]):
        return Stance.REFUSAL
    if _refusal_re().search(own):
        return Stance.REFUSAL
    if "?" in own or "¿" in own or any(_QUESTION_START.match(line) for line in lines):
        return Stance.QUESTION
    return Stance.NEUTRAL


def echoes_challenge(text: str) -> bool:
    """True when the own lines repeat our challenge's wording (a copy, not a person's answer)."""
    return _ECHO.search(_normal(text)) is not None
