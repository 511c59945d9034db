"""Pull identifiers and requested changes out of a message: e-mails, phones, handles, changes.

Pure. Phones are parsed with ``phonenumbers`` and returned in E.164.
"""

import re
from dataclasses import dataclass

import phonenumbers

from intents.changes import find_changes

#: Region assumed for phone numbers written without a country code, by message language.
REGIONS = {
    "en": "GB", "de": "DE", "nl": "NL", "sv": "SE", "fr": "FR", "es": "ES", "it": "IT",
    "pt": "PT", "ro": "RO", "pl": "PL", "ru": "RU", "cs": "CZ", "hr": "HR", "el": "GR",
}  # fmt: skip
_LIMIT = 20_000
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[A-Za-z]{2,24}\b")
# "username: jdoe", "Kundennummer 12345", "klantnummer: K-123" ... the label, then the handle.
_HANDLE = re.compile(
    r"\b(?:user ?name|user id|login|customer (?:number|no\.?|id)|account (?:number|no\.?|id)|"
    r"benutzername|kundennummer|kunden-nr\.?|kundenkonto|gebruikersnaam|klantnummer|"
    r"nom d'utilisateur|identifiant|numéro (?:de )?client|nombre de usuario|usuario|"
    r"número de cliente|nome utente|codice cliente|kundnummer|användarnamn|"
    r"numer klienta|číslo zákazníka|uživatelské jméno|korisničko ime|broj korisnika)"
    r"\s*(?:is|ist|est|es|è|är|je|:|=|#|-)?\s*:?\s*"
    r"(?P<handle>@?[A-Za-z0-9][\w.\-]{1,63})",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Extraction:
    """Identifiers and changes found in one message; each tuple in order of appearance."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    handles: tuple[str, ...]
    changes: tuple[tuple[str, str], ...]


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def find_phones(text: str, language: str = "und") -> list[str]:
    """Valid phone numbers in E.164 (``+4930…``); national ones use the language's region."""
    region = REGIONS.get(language, "DE")  # a European default; +CC numbers ignore it
    matcher = phonenumbers.PhoneNumberMatcher(
        text[:_LIMIT], region, leniency=phonenumbers.Leniency.VALID, max_tries=200
    )
    return [
        phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164) for m in matcher
    ]


def extract(text: str, language: str = "und") -> Extraction:
    """Find e-mail addresses, phones, user names / customer numbers and requested changes.

    Args:
        text: the message text (only the first 20,000 characters are searched).
        language: ISO 639-1 code of the message (region of national phone numbers).

    Returns:
        The extraction; never raises for any string.
    """
    text = text[:_LIMIT]
    emails = [m.group(0).rstrip(".") for m in _EMAIL.finditer(text)]
    handles = [m.group("handle").rstrip(".-") for m in _HANDLE.finditer(text)]
    handles = [h for h in handles if h.lower() not in {e.lower() for e in emails}]
    return Extraction(
        emails=_unique(emails),
        phones=_unique(find_phones(text, language)),
        handles=_unique(handles),
        changes=tuple(find_changes(text)),
    )
