"""Languages of outgoing mail: choosing one, naming intents, formatting dates (Babel).

English is the fallback for any language we have no templates for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from babel.dates import format_date, format_time

LANGUAGES = ("en", "nl", "de", "fr", "es")
FALLBACK = "en"

INTENT_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "see": "access to your data",
        "change": "correction of your data",
        "delete": "erasure of your data",
        "concern": "a question or concern about how we use your data",
        "unsubscribe": "no further marketing e-mail",
        "other": "a general enquiry",
    },
    "nl": {
        "see": "inzage in uw gegevens",
        "change": "correctie van uw gegevens",
        "delete": "verwijdering van uw gegevens",
        "concern": "een vraag of bezwaar over het gebruik van uw gegevens",
        "unsubscribe": "geen marketingmails meer",
        "other": "een algemene vraag",
    },
    "de": {
        "see": "Auskunft über Ihre Daten",
        "change": "Berichtigung Ihrer Daten",
        "delete": "Löschung Ihrer Daten",
        "concern": "eine Frage oder Beschwerde zur Nutzung Ihrer Daten",
        "unsubscribe": "keine weiteren Werbe-E-Mails",
        "other": "eine allgemeine Anfrage",
    },
    "fr": {
        "see": "l'accès à vos données",
        "change": "la rectification de vos données",
        "delete": "l'effacement de vos données",
        "concern": "une question ou une réclamation sur l'utilisation de vos données",
        "unsubscribe": "l'arrêt des e-mails marketing",
        "other": "une demande générale",
    },
    "es": {
        "see": "el acceso a sus datos",
        "change": "la rectificación de sus datos",
        "delete": "la supresión de sus datos",
        "concern": "una pregunta o queja sobre el uso de sus datos",
        "unsubscribe": "no recibir más correos de marketing",
        "other": "una consulta general",
    },
}
_AND = {"en": "and", "nl": "en", "de": "und", "fr": "et", "es": "y"}


def pick_language(tag: str | None) -> str:
    """Our template language for a language tag like `de-AT` or `FR`; English when unknown."""
    if not tag:
        return FALLBACK
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else FALLBACK


def join_list(items: Iterable[str], lang: str) -> str:
    """ "a, b and c" in the given language."""
    words = [str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {_AND.get(lang, 'and')} {words[-1]}"


def intent_names(labels: Iterable[str], lang: str) -> str:
    """The intents of a case as words, e.g. "access to your data and erasure of your data"."""
    names = INTENT_NAMES.get(lang, INTENT_NAMES[FALLBACK])
    return join_list((names.get(label, label) for label in labels), lang)


def long_date(value: date, lang: str) -> str:
    """A date written out: "29 December 2026", "29. Dezember 2026", ..."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date() if value.tzinfo else value.date()
    return str(format_date(value, "long", locale=lang))


def long_datetime(value: datetime, lang: str) -> str:
    """A moment in UTC: "29 December 2026, 14:05 UTC" (24-hour clock in every language)."""
    moment = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return f"{long_date(moment.date(), lang)}, {format_time(moment, 'HH:mm', locale=lang)} UTC"
