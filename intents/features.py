"""Sparse features for the text classifier: words, word bigrams and accent-free character n-grams.

Character n-grams inside words let one example of "löschen" teach "gelöscht" and "Löschung",
which matters for inflected languages (cs, hr, pl, el, ru). Values are L2-normalised per text
so a one-liner and a three-page letter speak equally loudly. A whole batch is featurised with
a few numpy passes (no Python loop per n-gram), so unseen words cost little.
"""

import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from spacy.attrs import LOWER
from spacy.tokens import Doc
from thinc.api import Model

Keys = npt.NDArray[np.uint64]
Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]
_EMPTY = np.zeros(0, dtype=np.uint64)

#: Tokens that count as the opening of a message (subject line and first paragraph), in models
#: that read it apart (``head_tokens`` of :func:`batch_features`; the shipped model does not).
HEAD_TOKENS = 60
_HEAD_SALT = np.uint64(0x5EAD5EAD5EAD5EAD)
_WORD_MULT = np.uint64(1000003)
_CHAR_MULT = np.uint64(0x9E3779B97F4A7C15)
_SEPARATOR = ord(" ")


def char_ngrams(words: Sequence[str], low: int, high: int) -> tuple[Keys, Ints]:
    """Hashed accent-free character ``low``..``high``-grams of each ``<word>``, vectorised.

    Args:
        words: lowercase words; ones that are not purely alphabetic get no n-grams.
        low: shortest n-gram.
        high: longest n-gram.

    Returns:
        ``(keys, word_index)``: one key per n-gram occurrence and the index of its word,
        sorted by word index.
    """
    keep = [i for i, word in enumerate(words) if word.isalpha()]
    if not keep:
        return _EMPTY, np.zeros(0, dtype=np.int64)
    padded = " ".join(f"<{words[i]}>" for i in keep)
    decomposed = unicodedata.normalize("NFD", padded).encode("utf-32-le")
    codes = np.frombuffer(decomposed, dtype=np.uint32)
    # Dropping the combining accents (U+0300..U+036F) makes "löschen" and "loschen" one word.
    codes = codes[(codes < 0x300) | (codes > 0x36F)].astype(np.uint64)
    position_word = np.asarray(keep, dtype=np.int64)[np.cumsum(codes == _SEPARATOR)]
    keys: list[Keys] = []
    owners: list[Ints] = []
    hashed = codes
    for n in range(2, high + 1):
        # Polynomial rolling hash of codes[i : i + n]; uint64 arithmetic wraps silently.
        hashed = hashed[:-1] * _CHAR_MULT + codes[n - 1 :]
        if n >= low and hashed.size:
            inside = (position_word[: hashed.size] == position_word[n - 1 :]) & (
                codes[: hashed.size] != _SEPARATOR
            )
            keys.append(hashed[inside] ^ np.uint64(n))
            owners.append(position_word[: hashed.size][inside])
    if not keys:
        return _EMPTY, np.zeros(0, dtype=np.int64)
    all_keys, all_owners = np.concatenate(keys), np.concatenate(owners)
    order = np.argsort(all_owners, kind="stable")
    return all_keys[order], all_owners[order]


def _groups(units: Ints, keys: Keys) -> tuple[Ints, Keys, Floats]:
    """Distinct ``(unit, key)`` pairs and how often each occurs."""
    if keys.size == 0:
        return units[:0], keys, np.zeros(0, dtype=np.float32)
    order = np.lexsort((keys, units))
    units, keys = units[order], keys[order]
    start = np.flatnonzero(
        np.concatenate([[True], (units[1:] != units[:-1]) | (keys[1:] != keys[:-1])])
    )
    counts = np.diff(np.append(start, keys.size)).astype(np.float32)
    return units[start], keys[start], counts


def _normalise(units: Ints, values: Floats, n_units: int) -> Floats:
    """Divide each value by the L2 norm of its unit's values."""
    norms = np.sqrt(np.bincount(units, weights=values * values, minlength=n_units))
    return (values / np.maximum(norms, 1e-6)[units]).astype(np.float32)


def _spans(starts: Ints, lengths: Ints) -> Ints:
    """Concatenated ``arange(start, start + length)`` for each pair, without a Python loop."""
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total, dtype=np.int64)


def batch_features(
    docs: Sequence[Doc], ngram_size: int, low: int, high: int, head_tokens: int = HEAD_TOKENS
) -> tuple[Keys, Floats, npt.NDArray[np.int32]]:
    """``(keys, values, lengths)`` for ``SparseLinear``: per doc, whole-text features and, with
    ``head_tokens``, opening features.

    With ``head_tokens`` > 0 each doc has two units: all its tokens, and its first
    ``head_tokens`` tokens (keys salted apart), so that the model can weigh a letter's opening,
    where it states its request, apart from the rest. With 0 (the shipped model) it has the
    first unit only: the opening of a formal letter is its letterhead and salutation, which name
    the genre more than the request, and without them genres never seen in training are read
    better (README, model card). Per unit, the word block (words and word n-grams) and the
    character block are each L2-normalised: there are far more character n-grams, and they
    should not drown the words.
    """
    per_doc = 2 if head_tokens > 0 else 1
    n_units = per_doc * len(docs)
    arrays: list[npt.NDArray[np.uint64]] = []
    for doc in docs:
        lowers = doc.to_array(LOWER).astype(np.uint64)
        arrays += [lowers, lowers[:head_tokens]] if per_doc == 2 else [lowers]
    if not docs or not sum(a.size for a in arrays):
        return _EMPTY, np.zeros(0, dtype=np.float32), np.zeros(len(docs), dtype=np.int32)
    tokens = np.concatenate(arrays)
    token_unit = np.repeat(np.arange(n_units, dtype=np.int64), [a.size for a in arrays])

    # Word block: words and word n-grams (a wrapping uint64 combination of the word ids).
    word_keys, word_units = [tokens], [token_unit]
    for n in range(2, ngram_size + 1):
        same = token_unit[: tokens.size - n + 1] == token_unit[n - 1 :]
        combined = tokens[: tokens.size - n + 1].copy()
        for k in range(1, n):
            combined = combined * _WORD_MULT ^ tokens[k : tokens.size - n + 1 + k]
        word_keys.append(combined[same])
        word_units.append(token_unit[: tokens.size - n + 1][same])
    w_units, w_keys, w_counts = _groups(np.concatenate(word_units), np.concatenate(word_keys))
    w_values = _normalise(w_units, w_counts, n_units)

    # Character block: each distinct word's n-grams, weighted by how often the word occurs.
    u_units, u_words, u_counts = _groups(token_unit, tokens)
    vocab, word_index = np.unique(u_words, return_inverse=True)
    strings = docs[0].vocab.strings
    gram_keys, gram_owner = char_ngrams([strings[int(w)] for w in vocab], low, high)
    per_word = np.bincount(gram_owner, minlength=vocab.size)
    first = np.cumsum(per_word) - per_word
    lengths = per_word[word_index]
    c_keys = gram_keys[_spans(first[word_index], lengths)]
    c_units = np.repeat(u_units, lengths)
    c_values = _normalise(c_units, np.repeat(u_counts, lengths), n_units)

    keys = np.concatenate([w_keys, c_keys])
    units = np.concatenate([w_units, c_units])
    keys = np.where(units % per_doc == 1, keys ^ _HEAD_SALT, keys)
    values = np.concatenate([w_values, c_values])
    doc_of = units // per_doc
    order = np.argsort(doc_of, kind="stable")
    counts = np.bincount(doc_of, minlength=len(docs)).astype(np.int32)
    return keys[order], values[order], counts


def hashed_features(
    ngram_size: int, low: int, high: int, head_tokens: int = HEAD_TOKENS
) -> Model[list[Doc], Any]:
    """A thinc layer turning docs into ``(keys, values, lengths)`` for ``SparseLinear``."""

    def forward(
        model: Model[list[Doc], Any], docs: list[Doc], is_train: bool
    ) -> tuple[Any, Callable[[Any], list[Doc]]]:
        return batch_features(docs, ngram_size, low, high, head_tokens), lambda d_out: []

    return Model("dsr_hashed_features", forward)
