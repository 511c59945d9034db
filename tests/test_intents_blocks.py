"""The encoder classifier reads a leading part of the sentence features (mean, max, opening)."""

from collections.abc import Sequence

import numpy as np
import pytest
import spacy

from intents.corpus import Example
from intents.encoder import BLOCKS, DIM, Floats
from intents.encoder_components import EncoderTextCat
from intents.labels import LABELS
from intents.mlp import MLP
from intents.train import FeatureCache, TrainSpec, _fit_encoder, build_pipeline


def _mlp(blocks: int, seed: int) -> MLP:
    rng = np.random.default_rng(seed)
    return MLP(
        rng.standard_normal((blocks * DIM, 8)).astype(np.float32) * 0.1,
        np.zeros(8, np.float32),
        rng.standard_normal((8, len(LABELS))).astype(np.float32),
        np.zeros(len(LABELS), np.float32),
    )


def _encoder_scores(component: EncoderTextCat, features: Floats) -> list[float]:
    nlp = spacy.blank("xx")
    doc = nlp.make_doc("text")
    doc._.language = "de"
    doc._.sentence_features = features
    out = next(iter(component.pipe([doc])))
    return [out._.cats_encoder[label] for label in LABELS]


def test_a_two_block_classifier_ignores_the_opening_and_an_old_one_reads_it() -> None:
    rng = np.random.default_rng(1)
    features = rng.standard_normal(len(BLOCKS) * DIM).astype(np.float32)
    other_opening = features.copy()
    other_opening[2 * DIM :] = rng.standard_normal(DIM)
    memory = np.zeros((0, DIM), np.float32)
    two = EncoderTextCat("encoder_textcat", 1.0)
    two.set_weights(_mlp(2, 0), 1.0, memory)
    assert _encoder_scores(two, features) == _encoder_scores(two, other_opening)
    # A model written before ``encoder_blocks`` was trained on all three blocks and reads them.
    three = EncoderTextCat("encoder_textcat", 1.0)
    three.set_weights(_mlp(3, 0), 1.0, memory)
    assert _encoder_scores(three, features) != _encoder_scores(three, other_opening)


class _Fixed(FeatureCache):
    """Features without the encoder: a fixed random row per text."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(2)

    def __call__(self, examples: Sequence[Example]) -> Floats:
        return self.rng.standard_normal((len(examples), len(BLOCKS) * DIM)).astype(np.float32)


def test_training_reads_the_configured_blocks_and_refuses_others() -> None:
    examples = [Example(f"text {i}", (LABELS[i % len(LABELS)],), "en") for i in range(12)]
    nlp = build_pipeline(encoder=True)
    _fit_encoder(nlp, examples, TrainSpec(), _Fixed())
    component: EncoderTextCat = nlp.get_pipe("encoder_textcat")  # type: ignore[assignment]
    assert component.mlp.w1.shape[0] == 2 * DIM
    _fit_encoder(nlp, examples, TrainSpec(encoder_blocks=3), _Fixed())
    assert component.mlp.w1.shape[0] == 3 * DIM
    with pytest.raises(ValueError, match=r"encoder_blocks must be 1 \.\. 3"):
        _fit_encoder(nlp, examples, TrainSpec(encoder_blocks=4), _Fixed())
