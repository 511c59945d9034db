"""Batch featurisation, the word tokenizer and batched language detection match one-by-one."""

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from spacy.tokens import Doc

from intents.classify import MODEL_DIR, load_model, looks_like_words, one_word
from intents.errors import ModelError
from intents.features import batch_features, char_ngrams
from intents.tokenizer import LEXEME_ATTRS, WordTokenizer
from intents.train import build_pipeline

TEXTS = [
    "Bitte löschen Sie meine Daten. Bitte LÖSCHEN!",
    "",
    "!!! ??? 123",
    "Ich möchte Auskunft nach Art. 15 DSGVO. " * 40,
    "Καλημέρα, θέλω να διαγράψετε τον λογαριασμό μου.",
]


def _as_dict(keys: np.ndarray, values: np.ndarray) -> dict[int, float]:
    merged: dict[int, float] = defaultdict(float)
    for key, value in zip(keys.tolist(), values.tolist(), strict=True):
        merged[key] += value
    return dict(merged)


def _docs(texts: list[str]) -> list[Doc]:
    nlp = build_pipeline()
    return [nlp.make_doc(text) for text in texts]


def test_batch_equals_one_by_one() -> None:
    docs = _docs(TEXTS)
    keys, values, lengths = batch_features(docs, 2, 3, 5)
    assert lengths.tolist()[1] == 0 and int(lengths.sum()) == keys.size == values.size
    start = 0
    for doc, length in zip(docs, lengths.tolist(), strict=True):
        alone = batch_features([doc], 2, 3, 5)
        assert _as_dict(keys[start : start + length], values[start : start + length]) == (
            pytest.approx(_as_dict(alone[0], alone[1]))
        )
        start += length


def test_each_block_is_unit_length() -> None:
    # Whole text and opening, each with a word block and a character block: 4 unit vectors.
    _, values, _ = batch_features(_docs([TEXTS[0]]), 2, 3, 5)
    assert float(np.dot(values, values)) == pytest.approx(4.0, rel=1e-5)


def test_char_ngrams_ignore_accents_and_non_words() -> None:
    accented, owners = char_ngrams(["löschen", "x1", "loschen"], 3, 5)
    assert set(owners.tolist()) == {0, 2}
    assert sorted(accented[owners == 0].tolist()) == sorted(accented[owners == 2].tolist())
    assert char_ngrams([], 3, 5)[0].size == 0


def test_word_tokenizer_splits_words_and_symbols() -> None:
    doc = build_pipeline().make_doc("Hello,  world! l'adresse e-mail")
    assert [t.text for t in doc] == [
        "Hello",
        ",",
        "world",
        "!",
        "l",
        "'",
        "adresse",
        "e",
        "-",
        "mail",
    ]
    getters = doc.vocab.lex_attr_getters  # type: ignore[attr-defined]
    assert set(getters) <= set(LEXEME_ATTRS)


def test_short_chinese_and_japanese_requests_read_as_words() -> None:
    make_doc = build_pipeline().make_doc
    assert looks_like_words(make_doc("请删除"))  # three characters: "please delete"
    assert looks_like_words(make_doc("退订短信，谢谢"))
    assert looks_like_words(make_doc("配信停止をお願いします"))
    assert not looks_like_words(make_doc("删"))
    assert one_word(make_doc("退订")) is None  # never "one word": classified, not waved through


def test_word_tokenizer_refuses_another_pattern(tmp_path: Path) -> None:
    tokenizer = WordTokenizer(build_pipeline().vocab)
    tokenizer.to_disk(tmp_path / "tokenizer")
    tokenizer.from_disk(tmp_path / "tokenizer")
    (tmp_path / "tokenizer").write_text(json.dumps({"pattern": r"\S+"}))
    with pytest.raises(ModelError, match="dsr train"):
        tokenizer.from_disk(tmp_path / "tokenizer")


def test_language_batch_equals_single() -> None:
    model = load_model(MODEL_DIR).nlp.get_pipe("language_detector").model  # type: ignore[attr-defined]
    texts = [*TEXTS, "x", "Hej, jag vill radera mitt konto."]
    assert model.predict_many(texts) == [model.predict(text) for text in texts]


def test_without_the_opening_only_the_whole_text_is_read() -> None:
    # head_tokens=0, as the shipped model: the default's whole-text unit and nothing else.
    docs = _docs([TEXTS[0]])
    default = _as_dict(*batch_features(docs, 2, 3, 5)[:2])
    keys, values, lengths = batch_features(docs, 2, 3, 5, head_tokens=0)
    assert int(lengths.sum()) == keys.size == values.size
    assert float(np.dot(values, values)) == pytest.approx(2.0, rel=1e-5)  # words, characters
    whole = _as_dict(keys, values)
    assert set(whole) < set(default)
    assert all(whole[key] == pytest.approx(default[key]) for key in whole)
