"""Deterministic training-time augmentation: accent-free and typo variants of corpus examples.

Customers often type without accents or with slips; the variants teach the model both.
"""

import random
import unicodedata
from collections.abc import Sequence

from intents.corpus import Example, bucket


def strip_accents(text: str) -> str:
    """Remove combining marks (``é`` -> ``e``, ``ř`` -> ``r``, ``ά`` -> ``α``); ``ł``/``ß`` stay."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    )


def add_typos(text: str, rng: random.Random, rate: float = 0.02) -> str:
    """Swap or drop a letter in about ``rate`` of the words longer than four letters."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 4 and word.isalpha() and rng.random() < rate:
            j = rng.randrange(1, len(word) - 2)
            if rng.random() < 0.5:
                words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            else:
                words[i] = word[:j] + word[j + 1 :]
    return " ".join(words)


def augment(examples: Sequence[Example], seed: int) -> list[Example]:
    """The examples followed by their variants; the same input and seed give the same output.

    Args:
        examples: training examples.
        seed: seeds each example's own generator (together with its text).

    Returns:
        Originals, then one accent-free copy (where it differs), then one typo copy each.
    """
    out = list(examples)
    for example in examples:
        plain = strip_accents(example.text)
        if plain != example.text:
            out.append(Example(plain, example.labels, example.lang, example.kind))
    for example in examples:
        rng = random.Random(int(bucket(example.text, seed) * 2**32))
        noisy = add_typos(example.text, rng)
        if noisy != example.text:
            out.append(Example(noisy, example.labels, example.lang, example.kind))
    return out
