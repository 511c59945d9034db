"""Language identification: the shipped detector and the naive Bayes model itself."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intents.classify import IntentModel, classify, load_model
from intents.langid import UNDETERMINED, fit_language_model


@pytest.fixture(scope="module")
def shipped() -> IntentModel:
    return load_model()


def test_fit_and_predict() -> None:
    model = fit_language_model(
        ["the cat sat on the mat with the hat", "der Hund sitzt auf der Matte mit dem Hut"],
        ["en", "de"],
        buckets=2**12,
    )
    assert model.predict("the hat on the mat")[0] == "en"
    assert model.predict("der Hut auf der Matte")[0] == "de"
    assert model.predict("")[0] == UNDETERMINED
    assert model.predict("12345 !!! ...")[0] == UNDETERMINED


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Please send me a copy of all the personal data you hold about me.", "en"),
        ("Bitte löschen Sie alle meine Daten und bestätigen Sie mir die Löschung.", "de"),
        ("Je souhaite recevoir une copie de toutes mes données personnelles.", "fr"),
        ("Quiero que eliminen mi cuenta y todos mis datos personales.", "es"),
        ("Vorrei ricevere una copia dei miei dati personali, grazie.", "it"),
        ("Gostaria de receber uma cópia dos meus dados pessoais, obrigado.", "pt"),
        ("Prosím o výmaz všech mých osobních údajů z vaší databáze.", "cs"),
        ("Molim vas da izbrišete sve moje osobne podatke iz vaše baze.", "hr"),
        ("Παρακαλώ διαγράψτε όλα τα προσωπικά μου δεδομένα από τη βάση σας.", "el"),
        ("Jag vill att ni raderar alla mina personuppgifter omedelbart.", "sv"),
        ("Ik wil graag een kopie van al mijn persoonsgegevens ontvangen.", "nl"),
        ("Proszę o usunięcie wszystkich moich danych osobowych.", "pl"),
        ("Прошу удалить все мои персональные данные из вашей базы.", "ru"),
        ("Vă rog să ștergeți toate datele mele personale din baza de date.", "ro"),
    ],
    ids=lambda v: v if len(v) == 2 else "",
)
def test_shipped_detector(shipped: IntentModel, text: str, language: str) -> None:
    doc = shipped.nlp(text)
    assert doc._.language == language


@given(st.text(max_size=500))
def test_predict_never_raises(text: str) -> None:
    model = fit_language_model(["abc def", "xyz uvw"], ["en", "de"], buckets=2**10)
    language, score = model.predict(text)
    assert language in {"en", "de", UNDETERMINED}
    assert 0.0 <= score <= 1.0


def test_text_in_no_known_language_is_undetermined(shipped: IntentModel) -> None:
    model = shipped.nlp.get_pipe("language_detector").model
    assert model.min_fit > -20
    assert model.predict("õiÂ\x1dÖÌTV¦ Ø¤ÿþ ÃÂ¿ÂµÂ")[0] == UNDETERMINED
    assert model.predict("ok thanks")[0] == "en"
    # Keyboard mash fits the 26-language corpus' loosest text (IDs, code) well enough to get a
    # language from this detector; the whole pipeline still sends it to a human.
    assert classify(shipped, "asdf qwer zxcv yxcv").needs_review
