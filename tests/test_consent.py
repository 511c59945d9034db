"""The refusal and question rules read replies in every language the classifier knows."""

from __future__ import annotations

import pytest

from bot.case.consent import Stance, echoes_challenge, stance

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
}
NEUTRAL = {
    "en-yes": "Yes, this was me. 587E-U7WA",
    "en-no-problem": "No problem, here is the code 587E-U7WA",
    "en-thanks": "Thank you, confirmed: 587E-U7WA",
    "nl": "Ja, dat was ik. 587E-U7WA",
    "de": "Ja, das war ich. Mein Code: 587E-U7WA",
    "fr": "Oui, c'était bien moi : 587E-U7WA",
    "es": "Sí, fui yo: 587E-U7WA",
    "nothing-else": "587E-U7WA\nRe: [DSR-3] Please confirm or refuse a request about your data",
}


@pytest.mark.parametrize("text", REFUSALS.values(), ids=REFUSALS.keys())
def test_refusals_are_read(text: str) -> None:
    assert stance(text) is Stance.REFUSAL


@pytest.mark.parametrize("text", NEUTRAL.values(), ids=NEUTRAL.keys())
def test_consent_is_not_read_as_a_refusal(text: str) -> None:
    assert stance(text) is Stance.NEUTRAL


@pytest.mark.parametrize(
    "text", ["What is this about?", "Wat?", "Warum?", "¿Qué es esto?", "Pourquoi"], ids=str
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
