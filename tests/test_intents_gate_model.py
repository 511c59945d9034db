"""The gate's py3langid model: only the labels it may answer, the same answers as py3langid."""

import numpy as np
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from intents.encoder_components import identifiable_languages
from intents.gate_model import load_identifier

TEXTS = [
    "Bonjour, je voudrais supprimer mon compte et toutes mes données.",
    "Dobrý den, žádám o výmaz svých osobních údajů.",
    "Tere, palun kustutage minu andmed teie süsteemist.",
    "Xin chào, vui lòng xóa tài khoản của tôi.",
    "Habari, tafadhali futa akaunti yangu.",
    "Kalimera sas, thelo na diagrapsete ton logariasmo mou.",
    "请删除我的账户。",
    "12345 !!! ???",
]


@pytest.fixture(scope="module")
def full() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def test_only_the_gates_labels(full: LanguageIdentifier) -> None:
    restricted = load_identifier(identifiable_languages)
    assert restricted.nb_classes == [
        label for label in full.nb_classes if label in set(identifiable_languages(full.nb_classes))
    ]
    assert restricted.nb_ptc.shape == (full.nb_ptc.shape[0], len(restricted.nb_classes))
    assert list(restricted.tk_nextmove) == list(full.tk_nextmove)


@pytest.mark.parametrize("text", TEXTS)
def test_same_answer_as_py3langid_restricted(full: LanguageIdentifier, text: str) -> None:
    keep = set(identifiable_languages(full.nb_classes))
    ranked = [(label, p) for label, p in full.rank(text) if label in keep]
    total = sum(p for _, p in ranked)
    ours = load_identifier(identifiable_languages).rank(text)
    assert ours[0][0] == ranked[0][0]
    assert np.isclose(ours[0][1], ranked[0][1] / total, atol=1e-4)
