"""Sparse features for the text classifier: words, word bigrams and accent-free character n-grams.

Character n-grams inside words let one example of "löschen" teach "gelöscht" and "Löschung",
which matters for inflected languages (cs, hr, pl, el, ru). Values are L2-normalised per text
so a one-liner and a three-page letter speak equally loudly.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt
from spacy.attrs import LOWER
from spacy.strings import get_string_id
from spacy.tokens import Doc
from thinc.api import Model

from intents.augment import strip_accents

Keys = npt.NDArray[np.uint64]
_EMPTY = np.zeros(0, dtype=np.uint64)


@lru_cache(maxsize=200_000)
def char_ngram_keys(word: str, low: int, high: int) -> Keys:
    """Hashed character ``low``..``high``-grams of ``<word>`` without accents (cached per word)."""
    if not word.isalpha():
        return _EMPTY
    padded = f"<{strip_accents(word)}>"
    grams = {padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)}
    return np.array(sorted(get_string_id("\x01" + g) for g in grams), dtype=np.uint64)


def _salt(keys: Keys, salt: int) -> Keys:
    return keys ^ np.uint64(salt) if salt else keys


def token_features(
    lowers: npt.NDArray[np.uint64],
    strings: Any,
    ngram_size: int,
    low: int,
    high: int,
    salt: int = 0,
) -> tuple[Keys, npt.NDArray[np.float32]]:
    """Unique feature keys of a token sequence (LOWER ids) and their L2-normalised counts."""
    if lowers.size == 0:
        return _EMPTY, np.zeros(0, dtype=np.float32)
    parts = [lowers]
    for n in range(2, ngram_size + 1):
        if lowers.size >= n:
            # Word n-grams as a wrapping uint64 combination of the word ids.
            combined = lowers[: lowers.size - n + 1].copy()
            for k in range(1, n):
                combined = combined * np.uint64(1000003) ^ lowers[k : lowers.size - n + 1 + k]
            parts.append(combined)
    words, counts = np.unique(lowers, return_counts=True)
    grams = [char_ngram_keys(strings[word], low, high) for word in words.tolist()]
    # Each word's character n-grams count as often as the word occurs.
    gram_weights = np.repeat(counts.astype(np.float32), [g.size for g in grams])
    # Word and character blocks are normalised apart: there are far more character n-grams,
    # and they should not drown the words.
    word_keys, word_values = _normalised(np.concatenate(parts), None)
    # Character n-grams are not merged: SparseLinear sums repeated keys anyway, and skipping
    # the sort keeps featurisation cheap.
    char_keys = np.concatenate([_EMPTY, *grams])
    char_values = gram_weights / np.float32(max(np.sqrt(np.dot(gram_weights, gram_weights)), 1e-6))
    return (
        _salt(np.concatenate([word_keys, char_keys]), salt),
        np.concatenate([word_values, char_values]),
    )


def _normalised(
    keys: Keys, weights: npt.NDArray[np.float32] | None
) -> tuple[Keys, npt.NDArray[np.float32]]:
    if keys.size == 0:
        return _EMPTY, np.zeros(0, dtype=np.float32)
    unique, inverse = np.unique(keys, return_inverse=True)
    values = np.bincount(inverse, weights=weights).astype(np.float32)
    values /= np.float32(np.sqrt(np.dot(values, values)))
    return unique, values


#: Tokens that count as the opening of a message (subject line and first paragraph).
HEAD_TOKENS = 60
_HEAD_SALT = 0x5EAD5EAD5EAD5EAD


def doc_features(
    doc: Doc, ngram_size: int, low: int, high: int
) -> tuple[Keys, npt.NDArray[np.float32]]:
    """Features of the whole doc plus, separately keyed, of its opening.

    A letter states its request first and mentions other rights later ("I may complain to
    the authority"); separate opening features let the model weigh the two differently.
    """
    lowers = doc.to_array(LOWER).astype(np.uint64)
    whole = token_features(lowers, doc.vocab.strings, ngram_size, low, high)
    head = token_features(
        lowers[:HEAD_TOKENS], doc.vocab.strings, ngram_size, low, high, _HEAD_SALT
    )
    return np.concatenate([whole[0], head[0]]), np.concatenate([whole[1], head[1]])


def hashed_features(ngram_size: int, low: int, high: int) -> Model[list[Doc], Any]:
    """A thinc layer turning docs into ``(keys, values, lengths)`` for ``SparseLinear``."""

    def forward(
        model: Model[list[Doc], Any], docs: list[Doc], is_train: bool
    ) -> tuple[Any, Callable[[Any], list[Doc]]]:
        batch = [doc_features(doc, ngram_size, low, high) for doc in docs]
        keys = np.concatenate([k for k, _ in batch]) if batch else _EMPTY
        values = np.concatenate([v for _, v in batch]) if batch else np.zeros(0, dtype=np.float32)
        lengths = np.array([k.size for k, _ in batch], dtype=np.int32)
        return (keys, values, lengths), lambda d_out: []

    return Model("dsr_hashed_features", forward)
