"""Validation and normalisation of rectified values (pure): e-mail, E.164 phone, names, postal data.

Each validator returns the normalised value or raises `InvalidChange` naming the field; messages
never repeat the rejected value, so they are safe to log and to show in Slack.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from storage.customer.errors import InvalidChange

# phonenumbers and email_validator are imported by the validators that use them: `dsr store
# export`/`erase` (and every process that only reads) start without their ~60 modules.

# Postal-code shapes for the countries we see most; others get a generic shape check.
_POSTAL = {
    "AT": r"\d{4}",
    "BE": r"\d{4}",
    "CH": r"\d{4}",
    "CZ": r"\d{3} ?\d{2}",
    "DE": r"\d{5}",
    "DK": r"\d{4}",
    "ES": r"\d{5}",
    "FR": r"\d{5}",
    "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
    "IT": r"\d{5}",
    "NL": r"\d{4} ?[A-Z]{2}",
    "PL": r"\d{2}-\d{3}",
    "PT": r"\d{4}-\d{3}",
    "SE": r"\d{3} ?\d{2}",
    "US": r"\d{5}(-\d{4})?",
}
_GENERIC_POSTAL = r"[A-Z0-9][A-Z0-9 -]{1,9}"


@cache
def _countries() -> frozenset[str]:
    import phonenumbers

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def _plain_text(field: str, value: str, *, max_len: int = 200) -> str:
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if not text:
        raise InvalidChange(field, "the value is empty; give the corrected value")
    if len(text) > max_len:
        raise InvalidChange(field, f"the value is longer than {max_len} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise InvalidChange(field, "the value contains control characters")
    return text


def email(field: str, value: str) -> str:
    """A syntactically valid address, normalised (domain lower-cased, local part kept)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidChange(field, f"not a valid e-mail address ({exc})") from None
    return str(result.normalized)


def phone(field: str, value: str, country: str | None = None) -> str:
    """A possible, valid telephone number in E.164 (`+4930123456`); national numbers need
    the subject's country."""
    import phonenumbers

    region = (country or "").upper() or None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidChange(
            field, f"not a telephone number ({exc}); give it with the country code, e.g. +49 …"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidChange(field, "not a valid telephone number for its country")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def name(field: str, value: str) -> str:
    """A personal name: letters required; digits and most symbols refused."""
    text = _plain_text(field, value)
    if not any(ch.isalpha() for ch in text):
        raise InvalidChange(field, "a name needs letters")
    if re.search(r"[0-9@<>{}\[\]\\/|#$%^*=+_~`\"]", text):
        raise InvalidChange(field, "a name may hold letters, spaces, hyphens, apostrophes and dots")
    return text


def country(field: str, value: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased."""
    code = value.strip().upper()
    if code not in _countries():
        raise InvalidChange(field, "not an ISO 3166 two-letter country code (e.g. DE, FR, US)")
    return code


def postal_code(field: str, value: str, country_code: str | None = None) -> str:
    """A postal code of the shape used in the country (generic shape when unknown)."""
    code = " ".join(value.strip().upper().split())
    shape = _POSTAL.get((country_code or "").upper(), _GENERIC_POSTAL)
    if not re.fullmatch(shape, code):
        where = f" for {country_code.upper()}" if country_code else ""
        raise InvalidChange(field, f"not a valid postal code{where}")
    return code


def text(field: str, value: str) -> str:
    """Free text on one line (street, city, company, username)."""
    return _plain_text(field, value)


def normalise(kind: str, field: str, value: str, country_code: str | None) -> str:
    """Dispatch on the data map's `rectify` kind.

    Raises:
        InvalidChange: the value does not fit; the message names the field, never the value.
    """
    if kind == "email":
        return email(field, value)
    if kind == "phone":
        return phone(field, value, country_code)
    if kind == "name":
        return name(field, value)
    if kind == "country":
        return country(field, value)
    if kind == "postal_code":
        return postal_code(field, value, country_code)
    return text(field, value)
