"""Language identification: a character n-gram naive Bayes model, hashed and vectorised in numpy.

Trained on the corpus' ``lang`` field; no downloaded model. Pure functions over arrays.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

#: Returned when a text has too few letters to tell its language, or fits none.
UNDETERMINED = "und"
FIT_MARGIN = 0.5
#: Texts scored with one gather (16 letters of 600 characters: about 2 MiB).
GROUP = 16

_NON_LETTERS = re.compile(r"[\W\d_]+")
# Odd multipliers give each n-gram order its own hash family; uint64 arithmetic wraps silently.
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SALTS = (np.uint64(0x1B873593), np.uint64(0xCC9E2D51), np.uint64(0x85EBCA6B))


def ngram_buckets(text: str, buckets: int, max_chars: int) -> npt.NDArray[np.int64]:
    """Hash the character 1-, 2- and 3-grams of a text's letters into ``[0, buckets)``.

    Args:
        text: any string.
        buckets: the hash space (a power of two).
        max_chars: only this many characters of letters and spaces are used.

    Returns:
        One bucket index per n-gram (possibly empty).
    """
    letters = unicodedata.normalize("NFC", text[: max_chars * 4]).lower()
    letters = _NON_LETTERS.sub(" ", letters)[:max_chars].strip()
    if not letters:
        return np.zeros(0, dtype=np.int64)
    codes = np.frombuffer(f" {letters} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = [codes * _MULT + _SALTS[0]]
    parts.append((codes[:-1] * _MULT + codes[1:]) * _MULT + _SALTS[1])
    parts.append(((codes[:-2] * _MULT + codes[1:-1]) * _MULT + codes[2:]) * _MULT + _SALTS[2])
    hashed = np.concatenate(parts)
    return ((hashed >> np.uint64(29)) % np.uint64(buckets)).astype(np.int64)


@dataclass(frozen=True)
class LanguageModel:
    """Per-language log-probabilities of hashed character n-grams."""

    languages: tuple[str, ...]
    #: shape (len(languages), buckets); float16: half the memory, sums are taken in float64.
    log_probs: npt.NDArray[np.float16]
    max_chars: int = 600
    min_letters: int = 3
    #: Lowest mean n-gram log-probability of a text in a known language; below it, "und".
    min_fit: float = -np.inf

    @property
    def buckets(self) -> int:
        """Size of the hash space."""
        return int(self.log_probs.shape[1])

    def fit(self, text: str) -> float | None:
        """Mean log-probability per n-gram under the best language (None without letters)."""
        index = ngram_buckets(text, self.buckets, self.max_chars)
        if index.size == 0 or not self.languages:
            return None
        return float(self.log_probs[:, index].sum(axis=1, dtype=np.float64).max() / index.size)

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely language of ``text`` and its posterior (``("und", 0.0)`` if unsure).

        Never raises for any string.
        """
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """:meth:`predict` for many texts, a gather over the probability table per group of
        :data:`GROUP` texts (one gather for a batch of long letters is tens of MiB)."""
        if not self.languages:
            return [(UNDETERMINED, 0.0)] * len(texts)
        return [
            found
            for start in range(0, len(texts), GROUP)
            for found in self._predict_group(texts[start : start + GROUP])
        ]

    def _predict_group(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        indexes = [ngram_buckets(text, self.buckets, self.max_chars) for text in texts]
        sizes = np.array([index.size for index in indexes], dtype=np.int64)
        flat = np.concatenate([np.zeros(0, dtype=np.int64), *indexes])
        scores = np.zeros((len(self.languages), len(texts)), dtype=np.float64)
        filled = np.flatnonzero(sizes)
        if filled.size:
            # One gather, then per-text sums over consecutive runs of the concatenated n-grams.
            starts = (np.cumsum(sizes) - sizes)[filled]
            scores[:, filled] = np.add.reduceat(
                self.log_probs[:, flat], starts, axis=1, dtype=np.float64
            )
        results: list[tuple[str, float]] = []
        for column, size in enumerate(sizes.tolist()):
            results.append(self._decide(scores[:, column], size))
        return results

    def _decide(self, scores: npt.NDArray[np.float64], size: int) -> tuple[str, float]:
        if size < self.min_letters * 3 or scores.max() / size < self.min_fit:
            return UNDETERMINED, 0.0  # too short, or like no language we know (noise, code)
        # Naive Bayes is overconfident; scaling by the n-gram count gives a usable posterior.
        scaled = (scores - scores.max()) * (30.0 / size)
        posterior = np.exp(scaled) / np.exp(scaled).sum()
        best = int(posterior.argmax())
        return self.languages[best], float(posterior[best])


def fit_language_model(
    texts: Sequence[str],
    langs: Sequence[str],
    buckets: int = 2**17,
    alpha: float = 0.1,
    max_chars: int = 600,
) -> LanguageModel:
    """Count hashed n-grams per language and turn them into smoothed log-probabilities.

    Args:
        texts: training texts; ones whose language is empty are skipped.
        langs: the language code of each text.
        buckets: hash space size.
        alpha: additive smoothing.
        max_chars: characters used per text (the same limit is used at prediction).

    Returns:
        The model; deterministic for the same inputs.
    """
    languages = tuple(sorted({lang for lang in langs if lang}))
    counts = np.zeros((len(languages), buckets), dtype=np.float64)
    row = {lang: i for i, lang in enumerate(languages)}
    for text, lang in zip(texts, langs, strict=True):
        if lang:
            # Training sees whole texts, in slices, so long letters count fully.
            for start in range(0, min(len(text), 20_000), max_chars * 2):
                chunk = text[start : start + max_chars * 2]
                counts[row[lang]] += np.bincount(
                    ngram_buckets(chunk, buckets, max_chars * 2), minlength=buckets
                )
    totals = counts.sum(axis=1, keepdims=True) + alpha * buckets
    log_probs = np.log((counts + alpha) / totals).astype(np.float16)
    model = LanguageModel(languages, log_probs, max_chars=max_chars)
    fits = [model.fit(text[: max_chars // 2]) for text, lang in zip(texts, langs, strict=True)]
    known = [f for f in fits if f is not None]
    # Half a nat below the worst-fitting training text: real text passes, noise does not.
    return replace(model, min_fit=min(known) - FIT_MARGIN) if known else model
