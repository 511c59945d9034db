"""Corpus parsing, hashing and the deterministic split."""

import json
from pathlib import Path

import pytest

from intents.corpus import (
    CORPUS_DIR,
    Example,
    corpus_files,
    corpus_sha256,
    load_corpus,
    parse_line,
    split,
)
from intents.errors import CorpusError
from intents.labels import LABELS
from intents.train import tuning_folds


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"labels": ["see"]}', "no string field 'text'"),
        ('{"text": "x", "labels": []}', "non-empty list"),
        ('{"text": "x", "labels": ["access"]}', "unknown label 'access'"),
    ],
    ids=["json", "no-text", "no-labels", "unknown-label"],
)
def test_bad_lines_name_the_place(line: str, fragment: str) -> None:
    with pytest.raises(CorpusError, match=fragment) as info:
        parse_line(line, "xx.jsonl:7")
    assert "xx.jsonl:7" in str(info.value)


def test_label_or_labels() -> None:
    assert parse_line('{"text": "t", "label": "see"}', "f:1").labels == ("see",)
    parsed = parse_line('{"text": "t", "labels": ["see", "delete", "see"], "lang": "de"}', "f:1")
    assert parsed == Example("t", ("see", "delete"), "de", "")


def test_shipped_corpus_is_valid() -> None:
    examples = load_corpus(corpus_files(CORPUS_DIR))
    assert len(examples) > 500
    assert {label for ex in examples for label in ex.labels} == set(LABELS)
    assert all(ex.lang for ex in examples)


def test_split_is_stable_and_disjoint() -> None:
    examples = [Example(f"text {i}", ("see",)) for i in range(1000)]
    train, valid, test = split(examples, seed=0)
    assert len(train) + len(valid) + len(test) == 1000
    assert 100 < len(test) < 200 and 100 < len(valid) < 200
    # Adding examples never moves an existing one to another part.
    _, valid2, test2 = split([*examples, Example("new", ("see",))], seed=0)
    assert set(test) <= set(test2) and set(valid) <= set(valid2)
    assert split(examples, seed=1)[2] != test


def test_hash_depends_on_content_and_name(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_text(json.dumps({"text": "x", "labels": ["see"]}) + "\n")
    first = corpus_sha256([a])
    assert first == corpus_sha256([a])
    a.write_text(json.dumps({"text": "y", "labels": ["see"]}) + "\n")
    assert corpus_sha256([a]) != first


def test_situation_is_read_and_optional() -> None:
    line = '{"text": "t", "labels": ["see"], "lang": "de", "kind": "form", "situation": "G1-7"}'
    assert parse_line(line, "f:1") == Example("t", ("see",), "de", "form", "G1-7")
    assert parse_line('{"text": "t", "labels": ["see"]}', "f:1").situation == ""
    with pytest.raises(CorpusError, match="situation"):
        parse_line('{"text": "t", "labels": ["see"], "situation": ["x"]}', "f:1")


def test_split_keeps_a_situation_on_one_side() -> None:
    examples = [
        Example(f"text {i} {lang}", ("see",), lang, "plain", f"s{i}")
        for i in range(300)
        for lang in ("de", "en", "fr")
    ]
    parts = split(examples, seed=0)
    sides = {ex.situation: index for index, part in enumerate(parts) for ex in part}
    for index, part in enumerate(parts):
        assert all(sides[ex.situation] == index for ex in part)
    assert all(len(part) % 3 == 0 and part for part in parts)


def test_shipped_corpus_has_situations() -> None:
    examples = load_corpus(corpus_files(CORPUS_DIR))
    assert all(ex.situation for ex in examples)
    # Translations share a situation: far fewer situations than examples.
    assert len({ex.situation for ex in examples}) < 0.6 * len(examples)


def test_tuning_folds_keep_each_situation_in_one_fold() -> None:
    examples = [
        Example(f"text {i} {lang}", ("see",), lang, "plain", f"s{i}")
        for i in range(200)
        for lang in ("de", "en", "fr")
    ]
    folds = tuning_folds(examples, 5, seed=0)
    assert sorted(ex.text for fold in folds for ex in fold) == sorted(ex.text for ex in examples)
    where = {ex.situation: index for index, fold in enumerate(folds) for ex in fold}
    assert all(where[ex.situation] == index for index, fold in enumerate(folds) for ex in fold)
    assert all(len(fold) % 3 == 0 and len(fold) > 60 for fold in folds)
    # Not the split's hash: the test part's situations spread over the folds.
    test_part = split(examples, seed=0)[2]
    assert len({where[ex.situation] for ex in test_part}) > 1
