"""The encoder's share in the mixed scores: one for its own languages, one for the rest."""

import json
from pathlib import Path

from intents.encoder_components import ENCODER_LANGUAGES, EncoderTextCat
from intents.labels import LABELS
from intents.tune import tune_mix_pair


def _scores(top: str, high: float) -> dict[str, float]:
    return {label: high if label == top else 0.05 for label in LABELS}


def test_the_weight_follows_the_language_and_survives_disk(tmp_path: Path) -> None:
    component = EncoderTextCat("encoder_textcat", 0.4)
    assert component.weight_for("fi") == component.weight_for("de") == 0.4
    component.other_weight = 0.1
    assert "de" in ENCODER_LANGUAGES and "fi" not in ENCODER_LANGUAGES
    assert component.weight_for("de") == 0.4
    assert component.weight_for("fi") == 0.1
    component.to_disk(tmp_path / "mix")
    loaded = EncoderTextCat("encoder_textcat", 0.3).from_disk(tmp_path / "mix")
    assert (loaded.weight, loaded.other_weight) == (0.4, 0.1)
    # A model written before the second weight existed mixes every language alike.
    (tmp_path / "mix" / "mix.json").write_text(json.dumps({"weight": 0.2}))
    old = EncoderTextCat("encoder_textcat", 0.3).from_disk(tmp_path / "mix")
    assert (old.weight, old.other_weight, old.weight_for("fi")) == (0.2, None, 0.2)


def test_the_pair_is_tuned_apart_for_the_two_groups() -> None:
    # Inside the encoder's languages the encoder is right and the lexical model wrong; outside,
    # the other way round: the best pair leans on the encoder inside and on the lexical outside.
    gold = [("see",), ("delete",)] * 20
    inside = [True, True] * 10 + [False, False] * 10
    lexical, encoder = [], []
    for labels, own in zip(gold, inside, strict=True):
        # The wrong model is a little surer than the right one: an even mix picks its answer.
        right, wrong = _scores(labels[0], 0.9), _scores("other", 0.95)
        lexical.append(wrong if own else right)
        encoder.append(right if own else wrong)
    own_weight, other_weight = tune_mix_pair(gold, lexical, encoder, inside)
    assert own_weight > 0.5 > other_weight
