"""Find requested data changes ("my new address is …", "correct my surname to …") in en de nl fr es.

Pure regular expressions over the text; fields use the reference customer store's names.
"""

import re
from functools import cache

# Words naming a field, per language, mapped to the store's column. Longer phrases first
# at build time, so "e-mail address" wins over "address".
FIELD_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "full name": "name",
        "surname": "name",
        "last name": "name",
        "family name": "name",
        "first name": "name",
        "name": "name",
        "e-mail address": "email",
        "email address": "email",
        "e-mail": "email",
        "email": "email",
        "phone number": "phone",
        "telephone number": "phone",
        "mobile number": "phone",
        "phone": "phone",
        "telephone": "phone",
        "street": "street",
        "address": "street",
        "postal code": "postal_code",
        "postcode": "postal_code",
        "zip code": "postal_code",
        "city": "city",
        "town": "city",
        "country": "country",
        "company name": "company",
        "company": "company",
        "username": "username",
        "user name": "username",
    },
    "de": {
        "nachnamen": "name",
        "nachname": "name",
        "familiennamen": "name",
        "familienname": "name",
        "vornamen": "name",
        "vorname": "name",
        "namen": "name",
        "name": "name",
        "e-mail-adresse": "email",
        "e-mail adresse": "email",
        "email-adresse": "email",
        "e-mail": "email",
        "telefonnummer": "phone",
        "handynummer": "phone",
        "mobilnummer": "phone",
        "telefon": "phone",
        "straße": "street",
        "strasse": "street",
        "anschrift": "street",
        "adresse": "street",
        "postleitzahl": "postal_code",
        "plz": "postal_code",
        "wohnort": "city",
        "stadt": "city",
        "ort": "city",
        "land": "country",
        "firmenname": "company",
        "firma": "company",
        "benutzername": "username",
    },
    "nl": {
        "achternaam": "name",
        "voornaam": "name",
        "naam": "name",
        "e-mailadres": "email",
        "mailadres": "email",
        "e-mail": "email",
        "telefoonnummer": "phone",
        "mobiele nummer": "phone",
        "straat": "street",
        "adres": "street",
        "postcode": "postal_code",
        "woonplaats": "city",
        "plaats": "city",
        "land": "country",
        "bedrijfsnaam": "company",
        "bedrijf": "company",
        "gebruikersnaam": "username",
    },
    "fr": {
        "nom de famille": "name",
        "prénom": "name",
        "nom": "name",
        "adresse e-mail": "email",
        "adresse email": "email",
        "adresse électronique": "email",
        "e-mail": "email",
        "numéro de téléphone": "phone",
        "téléphone": "phone",
        "rue": "street",
        "adresse postale": "street",
        "adresse": "street",
        "code postal": "postal_code",
        "ville": "city",
        "pays": "country",
        "société": "company",
        "entreprise": "company",
        "nom d'utilisateur": "username",
        "identifiant": "username",
    },
    "es": {
        "apellidos": "name",
        "apellido": "name",
        "nombre": "name",
        "correo electrónico": "email",
        "dirección de correo": "email",
        "correo": "email",
        "número de teléfono": "phone",
        "teléfono": "phone",
        "móvil": "phone",
        "calle": "street",
        "dirección": "street",
        "domicilio": "street",
        "código postal": "postal_code",
        "ciudad": "city",
        "país": "country",
        "empresa": "company",
        "nombre de usuario": "username",
        "usuario": "username",
    },
}

# Sentence shapes per language; {f} is the field alternation, the value follows.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": (
        r"\bmy new {f} is",
        r"\bnew {f}:",
        r"\b(?:change|correct|update|amend|set) (?:my|the) {f}(?: from .{{1,80}}?)? to",
        r"\bmy {f} (?:is now|has changed to|should be|should read|is actually)",
        r"\b{f} (?:should be|must be) (?:changed|corrected|updated) to",
    ),
    "de": (
        r"\b(?:meine|mein|meinen) neue[rn]? {f} (?:lautet|ist)",
        r"\bneue[rn]? {f}:",
        r"\b(?:meine[nr]?|den|die|das) {f}(?: von .{{1,80}}?)? (?:bitte )?(?:auf|in|zu)(?= )",
        r"\bmein(?:e)? {f} (?:lautet jetzt|ist jetzt|lautet richtig|lautet korrekt)",
        r"\bkorrekte[rn]? {f} (?:lautet|ist)",
    ),
    "nl": (
        r"\bmijn nieuwe {f} is",
        r"\bnieuwe? {f}:",
        r"\b(?:wijzig|corrigeer|verander|pas) (?:mijn|de) {f}"
        r"(?: van .{{1,80}}?)? (?:in|naar|aan naar)",
        r"\bmijn {f} (?:wijzigen|veranderen|aanpassen|corrigeren) (?:in|naar)",
        r"\bmijn {f} is nu",
        r"\bjuiste {f} is",
    ),
    "fr": (
        r"\b(?:ma nouvelle|mon nouveau|mon nouvel) {f} est",
        r"\bnouve(?:au|l|lle) {f} ?:",
        r"\b(?:corriger|modifier|changer|remplacer|mettre à jour) (?:mon|ma|le|la|l') ?{f}"
        r"(?: de .{{1,80}}?)? (?:en|par|pour|à)",
        r"\b(?:mon|ma) {f} (?:est désormais|est maintenant|correct est)",
        r"\b(?:le|la) bon(?:ne)? {f} est",
    ),
    "es": (
        r"\bmi nuev[oa] {f} es",
        r"\bnuev[oa] {f}:",
        r"\b(?:cambiar|corregir|modificar|actualizar|cambien|corrijan|modifiquen) (?:mi|el|la) {f}"
        r"(?: de .{{1,80}}?)? (?:a|por|en)",
        r"\bmi {f} (?:es ahora|ahora es|correct[oa] es)",
        r"\b(?:el|la) {f} correct[oa] es",
    ),
}

_VALUE = r"\s*[\"'“„«]?(?P<value>[^\n]{1,200})"
_CUT = re.compile(
    r"[.!?;](?:\s+(?=[A-ZÀ-ÝĀ-ſ])|\s*$)|[\"”“»]|\s+(?:and|und|en|et|y|please|bitte|merci|thanks|"
    r"thank you|danke|gracias|bedankt|dank u)\b|\s+(?:zu |te )?(?:ändern|korrigieren|berichtigen|"
    r"aktualisieren|abändern|wijzigen|aanpassen|corrigeren|veranderen)\b",
    re.IGNORECASE,
)
_ADDRESS = re.compile(
    r"^(?P<street>[^,]+?),\s*(?P<postal>[A-Z]{0,2}-?\d{4,5}(?: ?[A-Z]{2})?)\s+(?P<city>[^,]+)"
)


@cache
def _patterns() -> list[tuple[re.Pattern[str], dict[str, str]]]:
    built = []
    for lang, templates in TEMPLATES.items():
        words = FIELD_WORDS[lang]
        alternation = (
            "(?P<field>"
            + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
            + ")"
        )
        for template in templates:
            regex = template.format(f=alternation) + _VALUE
            built.append(
                (re.compile(regex, re.IGNORECASE), {k.lower(): v for k, v in words.items()})
            )
    return built


def _clean(value: str) -> str:
    match = _CUT.search(value)
    if match:
        value = value[: match.start()]
    return value.strip(" \t,:;.'\"").strip()


def find_changes(text: str) -> list[tuple[str, str]]:
    """Every (field, new value) pair stated in the text, in order of appearance, without repeats.

    An address value "Street 1, 12345 City" becomes street, postal_code and city pairs.

    Args:
        text: the message (only the first 20,000 characters are searched).

    Returns:
        ``[(field, value), ...]`` with store field names.
    """
    text = text[:20_000]
    found: list[tuple[int, str, str]] = []
    for pattern, words in _patterns():
        for match in pattern.finditer(text):
            field = words[match.group("field").lower()]
            value = _clean(match.group("value"))
            if not value:
                continue
            address = _ADDRESS.match(value) if field == "street" else None
            if address:
                found += [
                    (match.start(), "street", address["street"].strip()),
                    (match.start() + 1, "postal_code", address["postal"]),
                    (match.start() + 2, "city", _clean(address["city"])),
                ]
            else:
                found.append((match.start(), field, value))
    pairs: list[tuple[str, str]] = []
    for _, field, value in sorted(found):
        if (field, value) not in pairs and all(f != field for f, _ in pairs):
            pairs.append((field, value))
    return pairs
