"""Extraction of e-mails, phones, handles and requested changes, in several languages."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intents.extract import extract


@pytest.mark.parametrize(
    ("text", "language", "changes"),
    [
        (
            "Hi, my new address is 12 Mill Lane, 10115 Berlin. Thanks!",
            "en",
            [("street", "12 Mill Lane"), ("postal_code", "10115"), ("city", "Berlin")],
        ),
        ("Please correct my surname to Smith-Jones.", "en", [("name", "Smith-Jones")]),
        (
            "change my phone number from 0301234 to +49 30 9876543 please",
            "en",
            [("phone", "+49 30 9876543")],
        ),
        ("Bitte ändern Sie meinen Nachnamen auf Becker.", "de", [("name", "Becker")]),
        (
            "Meine neue Adresse lautet: Lindenweg 3, 80331 München",
            "de",
            [("street", "Lindenweg 3"), ("postal_code", "80331"), ("city", "München")],
        ),
        ("Mijn nieuwe e-mailadres is jan@example.nl.", "nl", [("email", "jan@example.nl")]),
        ("Wijzig mijn achternaam in De Vries, bedankt", "nl", [("name", "De Vries")]),
        (
            "Ma nouvelle adresse est 12 rue des Lilas, 75011 Paris.",
            "fr",
            [("street", "12 rue des Lilas"), ("postal_code", "75011"), ("city", "Paris")],
        ),
        ("Merci de corriger mon nom de famille en Dupont.", "fr", [("name", "Dupont")]),
        ("Por favor, cambien mi apellido a García López.", "es", [("name", "García López")]),
        ("Mi nuevo teléfono es 612 345 678", "es", [("phone", "612 345 678")]),
        ("I want to delete my account.", "en", []),
    ],
    ids=[
        "en-address",
        "en-surname",
        "en-from-to",
        "de-surname",
        "de-address",
        "nl-email",
        "nl-surname",
        "fr-address",
        "fr-surname",
        "es-surname",
        "es-phone",
        "en-none",
    ],
)
def test_changes(text: str, language: str, changes: list[tuple[str, str]]) -> None:
    assert list(extract(text, language).changes) == changes


def test_identifiers() -> None:
    found = extract(
        "Hallo, Kundennummer: K-20931, Benutzername jdoe77. Tel. 030 1234567 oder "
        "+31 20 123 4567. Mail: hans.mueller+x@example.de.",
        "de",
    )
    assert found.emails == ("hans.mueller+x@example.de",)
    assert found.phones == ("+49301234567", "+31201234567")
    assert found.handles == ("K-20931", "jdoe77")


def test_national_phone_uses_language_region() -> None:
    assert extract("bel me op 020 123 4567", "nl").phones == ("+31201234567",)
    assert extract("appelez-moi au 01 23 45 67 89", "fr").phones == ("+33123456789",)


def test_dates_are_not_phones() -> None:
    assert extract("Ich schrieb am 2024-05-01 und am 01.06.2024.", "de").phones == ()


@given(st.text(max_size=2000), st.sampled_from(["en", "de", "und", "zz"]))
def test_extract_never_raises(text: str, language: str) -> None:
    found = extract(text, language)
    assert all(phone.startswith("+") for phone in found.phones)
