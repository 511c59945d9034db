"""The refusal and question rules read replies in every language the classifier knows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.case.consent import Stance, echoes_challenge, stance
from mail.compose import render
from mail.i18n import LANGUAGES

REFUSALS = {
    "en-no": "NO",
    "en-no-thanks": "No thanks",
    "en-not-me": "That wasn't me.",
    "en-did-not": "I did NOT make this request. Do not delete anything!",
    "en-never": "What? I never asked for anything",
    "en-curly": "I didn\u2019t request this",
    "en-dont-delete": "Please don't delete my account",
    "nl-nee": "Nee.",
    "nl": "Dat was ik niet, ik heb niets aangevraagd.",
    "nl-niet-verwijderen": "Niet verwijderen alstublieft",
    "de-nein": "Nein!",
    "de": "Das war ich nicht.",
    "de-keine": "Ich habe keine Anfrage gestellt.",
    "fr-non": "Non",
    "fr": "Ce n'est pas moi.",
    "fr-jamais": "Je n'ai jamais demandé cela.",
    "es-no": "No, gracias",
    "es": "No fui yo.",
    "es-nunca": "Nunca pedí nada parecido",
    "it": "Non sono stato io",
    "pt": "Não fui eu",
    "pl": "To nie ja",
    "sv": "Det var inte jag",
    "da": "Det var ikke mig",
    "nb": "Det var ikke meg",
    "fi": "Se en ollut minä",
    "tr": "Ben değilim, talep etmedim",
    "ro-nu": "NU",
    "ro-nu-multumesc": "Nu, mulțumesc",
    "ro": "Nu am fost eu.",
    "ro-n-am": "N-am cerut nimic de felul acesta",
    "ro-nu-am-facut": "Nu am făcut această solicitare. Nu ștergeți nimic!",
    "ro-no-diacritics": "nu am facut nicio cerere",
    "ro-nu-stergeti": "Vă rog nu ștergeți contul meu",
    "ru-net": "НЕТ",
    "ru-net-spasibo": "Нет, спасибо",
    "ru": "Это был не я.",
    "ru-fem": "Это была не я",
    "ru-ne-delal": "Я не делал этот запрос.",
    "ru-ne-prosila": "Я ничего не просила",
    "ru-ne-udalyajte": "Ничего не удаляйте!",
    "cs-ne": "NE",
    "cs-ne-dekuji": "Ne, děkuji",
    "cs": "To jsem nebyl já.",
    "cs-nebyla": "Nebyla jsem to já",
    "cs-nepodal": "Tuto žádost jsem nepodal.",
    "cs-nezadala": "Nic jsem nežádala",
    "cs-nemazte": "Nic nemažte!",
    "hr-ne": "NE",
    "hr-ne-hvala": "Ne, hvala",
    "hr": "To nisam bio ja.",
    "hr-bila": "Nisam to bila ja",
    "hr-nisam-podnio": "Nisam podnio nikakav zahtjev.",
    "hr-nisam-trazila": "Nisam ništa tražila",
    "hr-ne-brisite": "Ništa ne brišite!",
    "el-ochi": "ΟΧΙ",
    "el-ochi-accent": "Όχι, ευχαριστώ",
    "el": "Δεν ήμουν εγώ.",
    "el-caps": "ΔΕΝ ΗΜΟΥΝ ΕΓΩ",
    "el-den-ekana": "Δεν έκανα εγώ αυτό το αίτημα",
    "el-den-zitisa": "Δεν ζήτησα τίποτα",
    "el-min-diagrapsete": "Μη διαγράψετε τίποτα!",
    "el-den-exo": "Δεν έχω υποβάλει κανένα αίτημα",
}
NEUTRAL = {
    "en-yes": "Yes, this was me. 587E-U7WA",
    "en-no-problem": "No problem, here is the code 587E-U7WA",
    "en-thanks": "Thank you, confirmed: 587E-U7WA",
    "nl": "Ja, dat was ik. 587E-U7WA",
    "de": "Ja, das war ich. Mein Code: 587E-U7WA",
    "fr": "Oui, c'était bien moi : 587E-U7WA",
    "es": "Sí, fui yo: 587E-U7WA",
    "sv": "Ja, det var jag. Koden: 587E-U7WA",
    "it": "Sì, sono stato io: 587E-U7WA",
    "pt": "Sim, fui eu: 587E-U7WA",
    "pl": "Tak, to ja: 587E-U7WA",
    "ro": "Da, eu am făcut solicitarea. Codul: 587E-U7WA",
    "ro-neutral": "Am primit mesajul dumneavoastră, mulțumesc.",
    "ru": "Да, это был я. Код: 587E-U7WA",
    "ru-neutral": "Я получил ваше письмо, спасибо.",
    "cs": "Ano, byl jsem to já. Kód: 587E-U7WA",
    "cs-neutral": "Děkuji za vaši zprávu.",
    "hr": "Da, to sam bio ja. Kod: 587E-U7WA",
    "hr-neutral": "Hvala na poruci.",
    "el": "Ναι, ήμουν εγώ. Κωδικός: 587E-U7WA",
    "el-neutral": "Ευχαριστώ για το μήνυμά σας.",
    "nothing-else": "587E-U7WA\nRe: [DSR-3] Please confirm or refuse a request about your data",
}


@pytest.mark.parametrize("text", REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_are_read(text: str) -> None:
    assert stance(text) is Stance.REFUSAL


@pytest.mark.parametrize("text", NEUTRAL.values(), ids=NEUTRAL.keys())
def test_consent_is_not_read_as_a_refusal(text: str) -> None:
    assert stance(text) is Stance.NEUTRAL


@pytest.mark.parametrize(
    "text",
    [
        "What is this about?",
        "Wat?",
        "Warum?",
        "¿Qué es esto?",
        "Pourquoi",
        "De ce?",
        "Что это?",
        "Proč?",
        "Zašto?",
        "Τι;",
    ],
    ids=str,
)
def test_questions_are_read(text: str) -> None:
    assert stance(text) is Stance.QUESTION


@pytest.mark.parametrize(
    "subject",
    [
        "Please confirm or refuse a request about your data",
        "Bevestig of weiger een verzoek over uw gegevens",
        "Bitte bestätigen oder verweigern Sie eine Anfrage zu Ihren Daten",
        "Merci de confirmer ou de refuser une demande concernant vos données",
        "Confirme o rechace una solicitud sobre sus datos",
        "Please confirm or refuse a new e-mail address",
    ],
    ids=["en", "nl", "de", "fr", "es", "new-address"],
)
def test_our_own_subject_lines_say_nothing(subject: str) -> None:
    assert stance(f"587E-U7WA\n{subject}") is Stance.NEUTRAL


def test_a_copy_of_our_challenge_is_recognised() -> None:
    assert echoes_challenge("If that was you, reply with the code 587E-U7WA (type it …")
    assert echoes_challenge("Iemand heeft ons op 4 december 2026 gevraagd om …")
    assert not echoes_challenge("Yes, this was me: 587E-U7WA")


_CHECK = {
    "code": "K7Q2-M9XD",
    "expires_at": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
    "asked_on": date(2026, 11, 24),
}
#: The mails a reply to a challenge answers (their subject lines come back in "Re: …").
CONTEXT: dict[str, dict[str, object]] = {
    "challenge": {**_CHECK, "requester": None, "asks": [{"kind": "delete"}]},
    "challenge_new_address": _CHECK,
    "verification_failed": {},
}
ANSWERED = tuple(CONTEXT)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", ANSWERED)
def test_our_own_subject_lines_say_nothing_in_any_language(template: str, lang: str) -> None:
    context = {"case_ref": "DSR-3", **CONTEXT[template]}
    subject = render(template, lang=lang, context=context).subject
    assert stance(f"587E-U7WA\nRe: [DSR-3] {subject}") is Stance.NEUTRAL
    assert stance(subject) is Stance.NEUTRAL


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", ["challenge", "challenge_new_address"])
def test_a_copy_of_our_challenge_is_recognised_in_every_language(template: str, lang: str) -> None:
    context = {"case_ref": "DSR-3", **CONTEXT[template]}
    out = render(template, lang=lang, context=context)
    assert out.lang == lang
    body = out.text.split("\n\n")
    assert echoes_challenge(body[1]), body[1]  # who asked what
    assert echoes_challenge(body[2]), body[2]  # the sentence that carries the code
