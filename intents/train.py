"""Train the intents pipeline from the corpus: language detector + multi-label text classifier.

Deterministic: the same corpus files, extra label files and seed give byte-identical model files.
"""

import logging
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language
from spacy.training import Example as SpacyExample
from thinc.api import Adam, Model, Optimizer, fix_random_seed

import intents.components  # noqa: F401  (registers factories and the architecture)
from intents.augment import augment
from intents.classify import MAX_CHARS, IntentModel, classify_many
from intents.corpus import CORPUS_DIR, Example, corpus_files, corpus_sha256, load_corpus, split
from intents.errors import CorpusError
from intents.evaluate import evaluate
from intents.labels import LABELS
from intents.tune import tune_margin, tune_secondary, tune_thresholds

logger = logging.getLogger(__name__)
BATCH_SIZE = 64

#: Model architectures that ``train`` can build; the config is stored with the model.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "hashed": {"@architectures": "dsr.TextCatHashedBOW.v1", "ngram_size": 2, "length": 2**18},
    "bow": {"@architectures": "dsr.TextCatBOWLower.v1", "ngram_size": 2, "length": 262144},
    "ensemble": {
        "@architectures": "spacy.TextCatEnsemble.v2",
        "tok2vec": {
            "@architectures": "spacy.Tok2Vec.v2",
            "embed": {
                "@architectures": "spacy.MultiHashEmbed.v2",
                "width": 64,
                "rows": [2000, 2000, 1000, 1000, 500],
                "attrs": ["NORM", "LOWER", "PREFIX", "SUFFIX", "SHAPE"],
                "include_static_vectors": False,
            },
            "encode": {
                "@architectures": "spacy.MaxoutWindowEncoder.v2",
                "width": 64,
                "window_size": 1,
                "maxout_pieces": 3,
                "depth": 2,
            },
        },
        "linear_model": {"@architectures": "dsr.TextCatHashedBOW.v1", "ngram_size": 2},
    },
}


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` built and how it scored on the corpus' held-out test split."""

    path: Path
    corpus_sha256: str
    sizes: dict[str, int]
    thresholds: dict[str, float]
    margin: float
    test_report: dict[str, Any]
    secondary: float = 0.0


#: Tokenizers that ``train`` can build: a regex word splitter (fast) or spaCy's rule tokenizer.
TOKENIZERS: dict[str, dict[str, Any]] = {
    "words": {"@tokenizers": "dsr.WordTokenizer.v1"},
    "spacy": {"@tokenizers": "spacy.Tokenizer.v1"},
}


def build_pipeline(architecture: str = "hashed", tokenizer: str = "words") -> Language:
    """A blank multilingual pipeline with ``language_detector`` and ``textcat_multilabel``.

    Raises:
        ValueError: unknown architecture or tokenizer name (the message lists the known ones).
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; use one of {sorted(ARCHITECTURES)}"
        )
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; use one of {sorted(TOKENIZERS)}")
    nlp = spacy.blank("xx", config={"nlp": {"tokenizer": TOKENIZERS[tokenizer]}})
    nlp.add_pipe("language_detector")
    textcat = nlp.add_pipe(
        "textcat_multilabel", config={"model": ARCHITECTURES[architecture], "threshold": 0.5}
    )
    for label in LABELS:
        textcat.add_label(label)  # type: ignore[attr-defined]
    return nlp


def _spacy_examples(nlp: Language, examples: Sequence[Example]) -> list[SpacyExample]:
    return [
        SpacyExample.from_dict(
            nlp.make_doc(ex.text[:MAX_CHARS]),
            {"cats": {label: float(label in ex.labels) for label in LABELS}},
        )
        for ex in examples
    ]


def _fit(
    examples: Sequence[Example],
    seed: int,
    *,
    architecture: str,
    tokenizer: str,
    epochs: int,
    learn_rate: float,
    dropout: float,
) -> Language:
    """A fresh pipeline trained on ``examples`` (augmented); deterministic for the same seed."""
    fix_random_seed(seed)
    nlp = build_pipeline(architecture, tokenizer)
    nlp.get_pipe("language_detector").fit(  # type: ignore[attr-defined]
        [ex.text for ex in examples], [ex.lang for ex in examples]
    )
    training = _spacy_examples(nlp, augment(examples, seed))
    optimizer = Adam(learn_rate, use_averages=True)
    nlp.initialize(lambda: training, sgd=optimizer)
    rng = random.Random(seed)
    for epoch in range(epochs):
        rng.shuffle(training)
        losses: dict[str, float] = {}
        for start in range(0, len(training), BATCH_SIZE):
            batch = training[start : start + BATCH_SIZE]
            nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses)
        logger.info("epoch %s loss %.4f", epoch, losses.get("textcat_multilabel", 0.0))
    _use_averages(nlp, optimizer)
    return nlp


def _use_averages(nlp: Language, optimizer: Optimizer) -> None:
    """Keep the running averages of the weights (steadier than the last update's weights)."""
    averages = optimizer.averages or {}
    for _, component in nlp.components:
        model = getattr(component, "model", None)
        if isinstance(model, Model):
            for node in model.walk():
                for name in node.param_names:
                    if (node.id, name) in averages:
                        node.set_param(name, averages[(node.id, name)].copy())


def train(
    out_dir: Path,
    *,
    corpus_dir: Path = CORPUS_DIR,
    seed: int = 0,
    include_labels: Sequence[Path] = (),
    architecture: str = "hashed",
    tokenizer: str = "words",
    epochs: int = 12,
    learn_rate: float = 0.01,
    dropout: float = 0.2,
    refit: bool = True,
) -> TrainResult:
    """Train, tune thresholds on the validation split, score the test split, write the model.

    Args:
        out_dir: the model directory (replaced).
        corpus_dir: directory of ``<lang>.jsonl`` corpus files.
        seed: seeds the split, augmentation, shuffling and weight initialisation.
        include_labels: extra JSONL files in corpus format (staff corrections); train only.
        architecture: a key of :data:`ARCHITECTURES`.
        tokenizer: a key of :data:`TOKENIZERS`.
        epochs: passes over the augmented training part.
        learn_rate: Adam's learning rate.
        dropout: dropout rate during updates.
        refit: after tuning, train again on train + validation parts (the test part stays out).

    Returns:
        Sizes, tuned parameters and the test-split report.

    Raises:
        CorpusError: the corpus is empty or a line is malformed.
    """
    files = corpus_files(corpus_dir)
    examples = load_corpus(files)
    if not examples:
        raise CorpusError(f"no examples in {corpus_dir}; add <lang>.jsonl files first")
    train_part, valid_part, test_part = split(examples, seed)
    extra = load_corpus(include_labels)
    fit = partial(
        _fit,
        seed=seed,
        architecture=architecture,
        tokenizer=tokenizer,
        epochs=epochs,
        learn_rate=learn_rate,
        dropout=dropout,
    )
    nlp = fit([*train_part, *extra])
    provisional = IntentModel(nlp, dict.fromkeys(LABELS, 0.5), 0.0)
    valid_scores = [c.scores for c in classify_many(provisional, [ex.text for ex in valid_part])]
    gold = [ex.labels for ex in valid_part]
    thresholds = tune_thresholds(gold, valid_scores)
    margin = tune_margin(gold, valid_scores, thresholds)
    secondary = tune_secondary(gold, valid_scores, thresholds, margin)
    if refit:  # the tuned decision rule, on a model that has also seen the validation part
        nlp = fit([*train_part, *valid_part, *extra])
    tuned = IntentModel(nlp, thresholds, margin, secondary=secondary)
    report = evaluate(test_part, classify_many(tuned, [ex.text for ex in test_part]))
    digest = corpus_sha256(files)
    sizes = {"train": len(train_part), "valid": len(valid_part), "test": len(test_part)}
    nlp.meta.update(
        name="dsr_intents",
        version="1.0.0",
        description="dsr-bot intents: language detection and multi-label intent classifier",
        dsr={
            "corpus_sha256": digest,
            "corpus_files": [p.name for p in files],
            "extra_sha256": corpus_sha256(list(include_labels)) if include_labels else None,
            "seed": seed,
            "architecture": architecture,
            "tokenizer": tokenizer,
            "epochs": epochs,
            "learn_rate": learn_rate,
            "dropout": dropout,
            "refit": refit,
            "sizes": {**sizes, "extra": len(extra)},
            "thresholds": thresholds,
            "margin": margin,
            "secondary": secondary,
            "test": {
                k: report["overall"][k] for k in ("n", "accuracy", "macro_f1", "needs_review")
            },
        },
    )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    nlp.to_disk(out_dir)
    return TrainResult(out_dir, digest, sizes, thresholds, margin, report, secondary)
