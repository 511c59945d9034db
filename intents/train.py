"""Train the intents pipeline from the corpus: language detection, a lexical multi-label text
classifier, and a small classifier over pretrained multilingual sentence vectors, mixed.

The corpus is split by situation; the mixing weight and every decision parameter are tuned on
the train and validation parts cross-fitted by situation (each message scored by a model that
never saw its situation), the test part is scored once. Deterministic: the same corpus files, extra
label files and seed give byte-identical model files.
"""

import logging
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from spacy.language import Language
from spacy.training import Example as SpacyExample
from thinc.api import Adam, Model, Optimizer, fix_random_seed

import intents.components  # noqa: F401  (registers factories and the architecture)
from intents.articles import raise_cited
from intents.augment import augment
from intents.classify import (
    MAX_CHARS,
    IntentModel,
    classify_many,
    junk_share,
    prepare_text,
    review_reason,
)
from intents.corpus import (
    CORPUS_DIR,
    Example,
    bucket,
    corpus_files,
    corpus_sha256,
    load_corpus,
    split,
)
from intents.cue_component import ArticleCue
from intents.encoder import BLOCKS, DIM, Floats, unit_gist
from intents.encoder_components import (
    ENCODER_LANGUAGES,
    EncoderTextCat,
    LanguageGate,
    SentenceEncoderComponent,
    encoder_share,
)
from intents.errors import CorpusError
from intents.evaluate import evaluate
from intents.labels import LABELS
from intents.mlp import MLPSpec, fit_mlp
from intents.tune import (
    Abstention,
    mix_scores,
    tune_abstention,
    tune_cue,
    tune_margin,
    tune_mix,
    tune_mix_pair,
    tune_secondary,
    tune_thresholds,
)

logger = logging.getLogger(__name__)
BATCH_SIZE = 64

#: Model architectures that ``train`` can build; the config is stored with the model.
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "hashed": {
        "@architectures": "dsr.TextCatHashedBOW.v1",
        "ngram_size": 2,
        # Rows of the weight table per intent: the corpus has about 600,000 distinct features,
        # each hashed into two rows; at 2**18 a row was shared by 2.6 of them (README, step 3).
        "length": 2**20,
        "head_tokens": 0,
    },
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


#: Tokenizers that ``train`` can build: a regex word splitter (fast) or spaCy's rule tokenizer.
TOKENIZERS: dict[str, dict[str, Any]] = {
    "words": {"@tokenizers": "dsr.WordTokenizer.v1"},
    "spacy": {"@tokenizers": "spacy.Tokenizer.v1"},
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
    #: How far a cited intent's score moves towards 1 (the ``article_cue``).
    cue_weight: float = 0.0
    #: What the tuning promised on the messages it was tuned on: the automatic share and the
    #: wrong-automatic rate (over all of them), at most ``TrainSpec.max_wrong``.
    tuned_automatic: float = 0.0
    tuned_wrong_automatic: float = 0.0


@dataclass(frozen=True)
class TrainSpec:
    """What ``train`` builds: data, architecture and training settings."""

    #: Directory of ``<lang>.jsonl`` corpus files.
    corpus_dir: Path = CORPUS_DIR
    #: Seeds the split, augmentation, shuffling and weight initialisation.
    seed: int = 0
    #: Extra JSONL files in corpus format (staff corrections); training parts only.
    include_labels: tuple[Path, ...] = ()
    #: A key of :data:`ARCHITECTURES` (the lexical classifier).
    architecture: str = "hashed"
    #: A key of :data:`TOKENIZERS`.
    tokenizer: str = "words"
    #: Passes over the augmented training part (lexical classifier).
    epochs: int = 12
    #: Add accent-free and typo variants of the training texts (lexical classifier).
    augment: bool = True
    #: Adam's learning rate (lexical classifier).
    learn_rate: float = 0.01
    #: Dropout rate during updates (lexical classifier).
    dropout: float = 0.2
    #: After tuning, train again on train + validation parts (the test part stays out).
    refit: bool = True
    #: Add the pretrained sentence encoder and its classifier (mixed with the lexical one).
    encoder: bool = True
    #: Settings of the classifier over sentence vectors.
    mlp: MLPSpec = field(default_factory=MLPSpec)
    #: How many leading blocks of the sentence features (mean, max, opening; see
    #: :func:`intents.encoder.text_features`) the classifier over them reads. Two: a letter's
    #: opening piece carries its genre (a letterhead, "Dear Sir or Madam") more than its request,
    #: and without it genres never seen in training are read better (README, model card).
    encoder_blocks: int = 2
    #: The encoder's share in the mixed scores; None tunes it on the validation part.
    mix_weight: float | None = None
    #: Tune a second encoder share for languages the encoder was not trained on.
    mix_by_language: bool = True
    #: Raise the scores of the intents a message cites by article ("Art. 16 GDPR"), by a share
    #: tuned with the mixing weight (``intents.articles``; README, model card).
    article_cue: bool = True
    #: Highest share of wrong automatic decisions allowed on the messages tuned on.
    max_wrong: float = 0.0125
    #: Tune on train + validation parts cross-fitted in this many folds by situation (each
    #: message scored by a model that never saw its situation: six times the validation part
    #: alone, so the abstention is chosen on more than a handful of wrong answers); 0 or 1
    #: tunes on the validation part with a model trained on the train part.
    tune_folds: int = 5
    #: Out of distribution at least: less near to the training texts than this share of the
    #: validation messages.
    ood_quantile: float = 0.005


@dataclass(frozen=True)
class Decisions:
    """Decision parameters tuned on the validation part."""

    thresholds: dict[str, float]
    margin: float
    secondary: float
    weight: float
    abstention: Abstention
    #: The encoder's share for text outside its own languages (None: ``weight`` for all).
    other_weight: float | None = None
    #: How far a cited intent's score moves towards 1 (``intents.articles.raise_cited``).
    cue_weight: float = 0.0


def build_pipeline(
    architecture: str = "hashed", tokenizer: str = "words", encoder: bool = False
) -> Language:
    """A blank multilingual pipeline: ``language_detector``, ``textcat_multilabel`` and, with
    ``encoder``, ``language_gate``, ``sentence_encoder`` and ``encoder_textcat``; last
    ``article_cue`` (weight 0 until tuned).

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
    if encoder:
        nlp.add_pipe("language_gate")
    textcat = nlp.add_pipe(
        "textcat_multilabel", config={"model": ARCHITECTURES[architecture], "threshold": 0.5}
    )
    for label in LABELS:
        textcat.add_label(label)  # type: ignore[attr-defined]
    if encoder:
        nlp.add_pipe("sentence_encoder")
        nlp.add_pipe("encoder_textcat")
    nlp.add_pipe("article_cue")
    return nlp


def _spacy_examples(nlp: Language, examples: Sequence[Example]) -> list[SpacyExample]:
    return [
        SpacyExample.from_dict(
            nlp.make_doc(ex.text[:MAX_CHARS]),
            {"cats": {label: float(label in ex.labels) for label in LABELS}},
        )
        for ex in examples
    ]


def _targets(examples: Sequence[Example]) -> Floats:
    return np.array([[float(label in ex.labels) for label in LABELS] for ex in examples], "f4")


class FeatureCache:
    """Sentence features of each text, computed once (folds and refits reuse them)."""

    def __init__(self) -> None:
        self.component = SentenceEncoderComponent("sentence_encoder", 2000, 250, threads=1)
        self._rows: dict[str, Floats] = {}

    def __call__(self, examples: Sequence[Example]) -> Floats:
        """Features ``(len(examples), dim)``, embedding only texts not seen before."""
        todo = list(dict.fromkeys(ex.text[:MAX_CHARS] for ex in examples))
        todo = [t for t in todo if t not in self._rows]
        if todo:
            for text, row in zip(todo, self.component.features(todo), strict=True):
                self._rows[text] = row
        return np.stack([self._rows[ex.text[:MAX_CHARS]] for ex in examples])


def _fit_lexical(nlp: Language, examples: Sequence[Example], spec: TrainSpec) -> None:
    """Train ``textcat_multilabel`` of ``nlp`` on ``examples`` (augmented)."""
    training = _spacy_examples(nlp, augment(examples, spec.seed) if spec.augment else examples)
    optimizer = Adam(spec.learn_rate, use_averages=True)
    nlp.initialize(lambda: training, sgd=optimizer)
    rng = random.Random(spec.seed)
    with nlp.select_pipes(enable=["textcat_multilabel"]):
        for epoch in range(spec.epochs):
            rng.shuffle(training)
            losses: dict[str, float] = {}
            for start in range(0, len(training), BATCH_SIZE):
                batch = training[start : start + BATCH_SIZE]
                nlp.update(batch, drop=spec.dropout, sgd=optimizer, losses=losses)
            logger.info("epoch %s loss %.4f", epoch, losses.get("textcat_multilabel", 0.0))
    _use_averages(nlp, optimizer)


def _fit_encoder(
    nlp: Language, examples: Sequence[Example], spec: TrainSpec, features: FeatureCache
) -> None:
    """Train ``encoder_textcat`` on the examples' sentence features; remember their gists.

    Raises:
        ValueError: ``spec.encoder_blocks`` is not 1 .. 3.
    """
    if not 1 <= spec.encoder_blocks <= len(BLOCKS):
        raise ValueError(f"encoder_blocks must be 1 .. {len(BLOCKS)}, not {spec.encoder_blocks}")
    rows = features(examples)
    mlp = fit_mlp(rows[:, : spec.encoder_blocks * DIM], _targets(examples), spec.seed, spec.mlp)
    component: EncoderTextCat = nlp.get_pipe("encoder_textcat")  # type: ignore[assignment]
    component.set_weights(mlp, component.weight, unit_gist(rows))


def fit_pipeline(
    examples: Sequence[Example], spec: TrainSpec, features: FeatureCache | None = None
) -> Language:
    """A fresh pipeline trained on ``examples``; deterministic for the same spec.

    Args:
        examples: training examples (language detection, lexical and encoder classifiers).
        spec: settings.
        features: shared sentence-feature cache (a new one when None).

    Returns:
        The trained pipeline, with the default mixing weight.
    """
    fix_random_seed(spec.seed)
    nlp = build_pipeline(spec.architecture, spec.tokenizer, spec.encoder)
    nlp.get_pipe("language_detector").fit(  # type: ignore[attr-defined]
        [ex.text for ex in examples], [ex.lang for ex in examples]
    )
    _fit_lexical(nlp, examples, spec)
    if spec.encoder:
        gate: LanguageGate = nlp.get_pipe("language_gate")  # type: ignore[assignment]
        gate.supported = tuple(sorted({ex.lang for ex in examples if ex.lang}))
        _fit_encoder(nlp, examples, spec, features or FeatureCache())
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


def set_mix(nlp: Language, weight: float, other_weight: float | None = None) -> None:
    """Set the share of the encoder classifier in the mixed scores, and its share for text
    outside the encoder's languages (None: the same); no-op without it."""
    if "encoder_textcat" in nlp.pipe_names:
        component: EncoderTextCat = nlp.get_pipe("encoder_textcat")  # type: ignore[assignment]
        component.weight = weight
        component.other_weight = other_weight


def set_cue(nlp: Language, weight: float) -> None:
    """Set how far the ``article_cue`` raises cited intents; no-op in models without it."""
    if "article_cue" in nlp.pipe_names:
        component: ArticleCue = nlp.get_pipe("article_cue")  # type: ignore[assignment]
        component.weight = weight


#: Per message: lexical scores, encoder scores, nearness to the training texts, forced review,
#: whether its detected language is one the encoder was trained on, and the intents it cites
#: by article.
Evidence = tuple[
    list[dict[str, float]],
    list[dict[str, float]],
    list[float],
    list[bool],
    list[bool],
    list[tuple[str, ...]],
]


def held_out_evidence(nlp: Language, valid: Sequence[Example]) -> Evidence:
    """One pass over ``valid``: lexical and encoder scores, nearness, forced reviews, whether
    each text is in one of the encoder's languages, and the intents it cites."""
    texts = [prepare_text(ex.text) for ex in valid]
    probe = IntentModel(nlp, dict.fromkeys(LABELS, 0.5), 0.0)
    set_cue(nlp, 0.0)  # the scores before the cue: tuning chooses its weight
    lexical, encoder, nearest, forced, inside = [], [], [], [], []
    cited: list[tuple[str, ...]] = []
    for doc, text in zip(nlp.pipe(texts), texts, strict=True):
        empty = dict.fromkeys(LABELS, 0.0)
        lexical.append(dict(doc._.cats_lexical or doc.cats) if len(doc) else empty)
        encoder.append(dict(doc._.cats_encoder or doc.cats) if len(doc) else empty)
        nearest.append(float(doc._.nearest))
        forced.append(bool(review_reason(probe, doc, junk_share(text), "")))
        inside.append(str(doc._.language) in ENCODER_LANGUAGES)
        cited.append(tuple(doc._.cited_intents))
    return lexical, encoder, nearest, forced, inside, cited


def tune_decisions(nlp: Language, valid: Sequence[Example], spec: TrainSpec) -> Decisions:
    """Mixing weight, thresholds, margin, second-intent floor and abstention on ``valid``."""
    return tune_on_evidence([ex.labels for ex in valid], held_out_evidence(nlp, valid), spec)


def tuning_folds(examples: Sequence[Example], count: int, seed: int) -> list[list[Example]]:
    """Cut ``examples`` into ``count`` folds by situation (a situation and all its translations
    in one fold), with a hash of the situation and ``seed + 1`` (not the split's own hash)."""
    folds: list[list[Example]] = [[] for _ in range(count)]
    for ex in examples:
        folds[min(int(bucket(ex.group, seed + 1) * count), count - 1)].append(ex)
    return folds


def cross_fitted_evidence(
    examples: Sequence[Example],
    spec: TrainSpec,
    features: FeatureCache,
    extra: Sequence[Example] = (),
    cut_seed: int | None = None,
) -> tuple[list[tuple[str, ...]], Evidence]:
    """Evidence for every example from a model that never saw its situation.

    The examples are cut into ``spec.tune_folds`` folds by situation (a hash of the situation
    and the seed, as :func:`intents.corpus.split` does); each fold is labelled by a model trained
    on the other folds and ``extra``. ``cut_seed`` cuts with another hash than ``spec.seed``'s
    (the models still train with ``spec.seed``): a replay cuts folds inside a fold.

    Returns:
        The gold labels and the evidence, in fold order.
    """
    folds = tuning_folds(examples, spec.tune_folds, spec.seed if cut_seed is None else cut_seed)
    gold: list[tuple[str, ...]] = []
    lexical: list[dict[str, float]] = []
    encoder: list[dict[str, float]] = []
    nearest: list[float] = []
    forced: list[bool] = []
    inside: list[bool] = []
    cited: list[tuple[str, ...]] = []
    for index, held in enumerate(folds):
        if not held:
            continue
        rest = [ex for other, fold in enumerate(folds) if other != index for ex in fold]
        fold_lexical, fold_encoder, fold_nearest, fold_forced, fold_inside, fold_cited = (
            held_out_evidence(fit_pipeline([*rest, *extra], spec, features), held)
        )
        gold += [ex.labels for ex in held]
        lexical += fold_lexical
        encoder += fold_encoder
        nearest += fold_nearest
        forced += fold_forced
        inside += fold_inside
        cited += fold_cited
        logger.info("tuning fold %s of %s labelled", index + 1, spec.tune_folds)
    return gold, (lexical, encoder, nearest, forced, inside, cited)


def decide_parameters(
    train_part: Sequence[Example],
    valid_part: Sequence[Example],
    spec: TrainSpec,
    features: FeatureCache,
    extra: Sequence[Example] = (),
) -> Decisions:
    """The decision parameters: cross-fitted over train + validation parts when
    ``spec.tune_folds`` is set, else from a model trained on the train part, on validation."""
    if spec.tune_folds > 1:
        gold, evidence = cross_fitted_evidence([*train_part, *valid_part], spec, features, extra)
        return tune_on_evidence(gold, evidence, spec)
    return tune_decisions(fit_pipeline([*train_part, *extra], spec, features), valid_part, spec)


def tune_on_evidence(
    gold: Sequence[Sequence[str]], evidence: Evidence, spec: TrainSpec
) -> Decisions:
    """Mixing weight, article cue, thresholds, margin, second-intent floor and abstention on
    the evidence of held-out messages (``gold`` their labels)."""
    lexical, encoder, nearest, forced, inside, cited = evidence
    weight, other = 0.0, None
    if spec.encoder and spec.mix_weight is not None:
        weight = spec.mix_weight
    elif spec.encoder and spec.mix_by_language:
        weight, other = tune_mix_pair(gold, lexical, encoder, inside)
    elif spec.encoder:
        weight = tune_mix(gold, lexical, encoder)
    shares = [encoder_share(own, weight, other) for own in inside]
    scores = mix_scores(lexical, encoder, shares)
    cue = tune_cue(gold, scores, cited) if spec.article_cue else 0.0
    scores = [raise_cited(s, c, cue) for s, c in zip(scores, cited, strict=True)]
    thresholds = tune_thresholds(gold, scores)
    margin = tune_margin(gold, scores, thresholds)
    secondary = tune_secondary(gold, scores, thresholds, margin)
    # "Far from everything": less near to any training text than 99.5 % of the validation
    # messages, which are unseen situations themselves.
    usable = [n for n, f in zip(nearest, forced, strict=True) if not f]
    least = (
        round(float(np.quantile(usable, spec.ood_quantile)), 3) if spec.encoder and usable else 0.0
    )
    abstention = tune_abstention(
        gold, scores, nearest, forced, thresholds, secondary, spec.max_wrong, least
    )
    return Decisions(thresholds, margin, secondary, weight, abstention, other, cue)


def make_tuned_model(nlp: Language, decisions: Decisions) -> IntentModel:
    """``nlp`` with the tuned mixing weight and article cue, wrapped with the tuned decision
    parameters."""
    set_mix(nlp, decisions.weight, decisions.other_weight)
    set_cue(nlp, decisions.cue_weight)
    return IntentModel(
        nlp,
        decisions.thresholds,
        decisions.abstention.margin,
        secondary=decisions.secondary,
        min_score=decisions.abstention.min_score,
        ood_floor=decisions.abstention.ood_floor,
        min_gap=decisions.abstention.min_gap,
    )


def _meta(
    spec: TrainSpec,
    files: Sequence[Path],
    sizes: dict[str, int],
    decisions: Decisions,
    report: dict[str, Any],
) -> dict[str, Any]:
    return {
        "corpus_sha256": corpus_sha256(files),
        "corpus_files": [p.name for p in files],
        "extra_sha256": corpus_sha256(list(spec.include_labels)) if spec.include_labels else None,
        "seed": spec.seed,
        "architecture": spec.architecture,
        "tokenizer": spec.tokenizer,
        "epochs": spec.epochs,
        "augment": spec.augment,
        "learn_rate": spec.learn_rate,
        "dropout": spec.dropout,
        "refit": spec.refit,
        "encoder": spec.encoder,
        "encoder_blocks": spec.encoder_blocks,
        "split": "situation",
        "tune_folds": spec.tune_folds,
        "max_wrong": spec.max_wrong,
        "tuned_automatic": decisions.abstention.automatic,
        "tuned_wrong_automatic": decisions.abstention.wrong_automatic,
        "sizes": sizes,
        "thresholds": decisions.thresholds,
        "margin": decisions.abstention.margin,
        "secondary": decisions.secondary,
        "mix_weight": decisions.weight,
        "mix_other_weight": decisions.other_weight,
        "cue_weight": decisions.cue_weight,
        "article_cue": spec.article_cue,
        "min_score": decisions.abstention.min_score,
        "ood_floor": decisions.abstention.ood_floor,
        "min_gap": decisions.abstention.min_gap,
        "test": {
            **{k: report["overall"][k] for k in ("n", "accuracy", "macro_f1", "needs_review")},
            **{k: report["automation"][k] for k in ("automatic", "wrong_automatic")},
        },
    }


def make_spec(spec: TrainSpec | None = None, **overrides: Any) -> TrainSpec:
    """``spec`` (or the defaults) with ``overrides`` by field name (the old keyword arguments).

    Raises:
        ValueError: an override names no field of :class:`TrainSpec`.
    """
    names = {f.name for f in fields(TrainSpec)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown training option {unknown[0]!r}; use one of {sorted(names)}")
    if "include_labels" in overrides:
        overrides["include_labels"] = tuple(overrides["include_labels"])
    return replace(spec or TrainSpec(), **overrides)


def train(out_dir: Path, spec: TrainSpec | None = None, **overrides: Any) -> TrainResult:
    """Train, tune on the validation part, score the test part once, write the model.

    Args:
        out_dir: the model directory (replaced).
        spec: what to train (defaults: :class:`TrainSpec`).
        overrides: :class:`TrainSpec` fields by name, e.g. ``seed=7``.

    Returns:
        Sizes, tuned parameters and the test-part report.

    Raises:
        CorpusError: the corpus is empty or a line is malformed.
        ValueError: an unknown option, architecture or tokenizer.
    """
    spec = make_spec(spec, **overrides)
    files = corpus_files(spec.corpus_dir)
    examples = load_corpus(files)
    if not examples:
        raise CorpusError(f"no examples in {spec.corpus_dir}; add <lang>.jsonl files first")
    train_part, valid_part, test_part = split(examples, spec.seed)
    extra = load_corpus(spec.include_labels)
    features = FeatureCache()
    decisions = decide_parameters(train_part, valid_part, spec, features, extra)
    # The tuned decision rule, on a model that has also seen the validation part.
    fitted = [*train_part, *valid_part, *extra] if spec.refit else [*train_part, *extra]
    nlp = fit_pipeline(fitted, spec, features)
    tuned = make_tuned_model(nlp, decisions)
    report = evaluate(test_part, classify_many(tuned, [ex.text for ex in test_part]))
    sizes = {"train": len(train_part), "valid": len(valid_part), "test": len(test_part)}
    nlp.meta.update(
        name="dsr_intents",
        version="2.0.0",
        description="dsr-bot intents: language identification, lexical and multilingual "
        "sentence-encoder intent classifiers, mixed",
        dsr=_meta(spec, files, {**sizes, "extra": len(extra)}, decisions, report),
    )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    nlp.to_disk(out_dir)
    return TrainResult(
        out_dir,
        nlp.meta["dsr"]["corpus_sha256"],
        sizes,
        decisions.thresholds,
        decisions.abstention.margin,
        report,
        decisions.secondary,
        decisions.cue_weight,
        decisions.abstention.automatic,
        decisions.abstention.wrong_automatic,
    )
