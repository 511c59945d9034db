"""Languages of outgoing mail: choosing one, naming intents, formatting dates (Babel).

English is the fallback for any language we have no templates for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
#: What a challenge says was asked, per language, completing "Someone asked us to …" (or its
#: translation: "gevraagd om …", "gebeten, …", "de …", "que …"). `{old}`, `{new}`, `{fields}`.
ASKED: dict[str, dict[str, str]] = {
    "en": {
        "see": "send a copy of your personal data",
        "delete": "delete your account and your personal data",
        "change_email": "change the e-mail address of your account from {old} to {new}",
        "change": "change your {fields}",
        "change_any": "change your personal data",
        "unsubscribe": "stop sending you marketing e-mail",
        "other": "act on a request about your personal data",
    },
    "nl": {
        "see": "een kopie van uw persoonsgegevens te sturen",
        "delete": "uw account en uw persoonsgegevens te verwijderen",
        "change_email": "het e-mailadres van uw account te wijzigen van {old} in {new}",
        "change": "uw {fields} te wijzigen",
        "change_any": "uw persoonsgegevens te wijzigen",
        "unsubscribe": "u geen marketingmails meer te sturen",
        "other": "een verzoek over uw persoonsgegevens uit te voeren",
    },
    "de": {
        "see": "eine Kopie Ihrer personenbezogenen Daten zu senden",
        "delete": "Ihr Konto und Ihre personenbezogenen Daten zu löschen",
        "change_email": "die E-Mail-Adresse Ihres Kontos von {old} in {new} zu ändern",
        "change": "Folgendes zu ändern: {fields}",
        "change_any": "Ihre personenbezogenen Daten zu ändern",
        "unsubscribe": "Ihnen keine Werbe-E-Mails mehr zu senden",
        "other": "eine Anfrage zu Ihren personenbezogenen Daten auszuführen",
    },
    "fr": {
        "see": "vous envoyer une copie de vos données personnelles",
        "delete": "supprimer votre compte et vos données personnelles",
        "change_email": "remplacer l'adresse e-mail de votre compte, {old}, par {new}",
        "change": "modifier les données suivantes : {fields}",
        "change_any": "modifier vos données personnelles",
        "unsubscribe": "ne plus vous envoyer d'e-mails marketing",
        "other": "donner suite à une demande concernant vos données personnelles",
    },
    "es": {
        "see": "le enviemos una copia de sus datos personales",
        "delete": "eliminemos su cuenta y sus datos personales",
        "change_email": "cambiemos la dirección de correo electrónico de su cuenta "
        "de {old} a {new}",
        "change": "cambiemos los siguientes datos: {fields}",
        "change_any": "cambiemos sus datos personales",
        "unsubscribe": "dejemos de enviarle correos de marketing",
        "other": "tramitemos una solicitud sobre sus datos personales",
    },
}
#: Fields of the account, as a challenge names them.
FIELD_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "name": "name",
        "phone": "phone number",
        "street": "street address",
        "postal_code": "postal code",
        "city": "city",
        "country": "country",
        "company": "company name",
        "username": "user name",
        "email": "e-mail address",
    },
    "nl": {
        "name": "naam",
        "phone": "telefoonnummer",
        "street": "adres",
        "postal_code": "postcode",
        "city": "woonplaats",
        "country": "land",
        "company": "bedrijfsnaam",
        "username": "gebruikersnaam",
        "email": "e-mailadres",
    },
    "de": {
        "name": "Name",
        "phone": "Telefonnummer",
        "street": "Anschrift",
        "postal_code": "Postleitzahl",
        "city": "Ort",
        "country": "Land",
        "company": "Firmenname",
        "username": "Benutzername",
        "email": "E-Mail-Adresse",
    },
    "fr": {
        "name": "nom",
        "phone": "numéro de téléphone",
        "street": "adresse postale",
        "postal_code": "code postal",
        "city": "ville",
        "country": "pays",
        "company": "nom de l'entreprise",
        "username": "nom d'utilisateur",
        "email": "adresse e-mail",
    },
    "es": {
        "name": "nombre",
        "phone": "número de teléfono",
        "street": "dirección postal",
        "postal_code": "código postal",
        "city": "ciudad",
        "country": "país",
        "company": "nombre de la empresa",
        "username": "nombre de usuario",
        "email": "dirección de correo electrónico",
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


def asked_text(asks: Iterable[Mapping[str, object]], lang: str) -> str:
    """What a challenge says was asked, e.g. "delete your account and your personal data".

    Args:
        asks: one mapping per thing asked: `kind` (see, delete, change, change_email,
            unsubscribe, other), and for changes `fields` (column names) or `old`/`new`.
    """
    phrases = ASKED.get(lang, ASKED[FALLBACK])
    names = FIELD_NAMES.get(lang, FIELD_NAMES[FALLBACK])
    out = []
    for ask in asks:
        kind = str(ask.get("kind", "other"))
        fields = [str(f) for f in ask.get("fields", ()) or ()]  # type: ignore[attr-defined]
        out.append(
            phrases.get(kind, phrases["other"]).format(
                old=ask.get("old", ""),
                new=ask.get("new", ""),
                fields=join_list((names.get(f, f) for f in fields), lang),
            )
        )
    return join_list(out, lang)
