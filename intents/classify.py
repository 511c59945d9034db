"""Classify texts with the shipped (or a given) model: scores, intents, language, review flag.

Load once with :func:`load_model`; :func:`classify` and :func:`classify_many` are CPU-only and
never await (run them with ``asyncio.to_thread``).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import spacy
from spacy.attrs import IS_ALPHA, IS_SPACE, LENGTH
from spacy.language import Language
from spacy.tokens import Doc

import intents.components  # noqa: F401  (registers the factories the model needs)
from intents.decide import decide
from intents.errors import ModelError
from intents.labels import LABELS, Intent
from intents.langid import UNDETERMINED

#: The model shipped with the package.
MODEL_DIR = Path(__file__).parent / "model"
#: Characters of a message given to the model; the opening of a letter carries its request.
MAX_CHARS = 5000


@dataclass(frozen=True)
class IntentModel:
    """A loaded pipeline with the decision parameters it was tuned with (or overrides)."""

    nlp: Language
    thresholds: Mapping[str, float]
    margin: float
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: Least score of an intent after the top one (see :func:`intents.decide.decide`).
    secondary: float = 0.0


@dataclass(frozen=True, slots=True)
class Classification:
    """The result for one text; ``scores`` holds all six labels."""

    intent: Intent
    intents: tuple[Intent, ...]
    scores: Mapping[str, float]
    language: str
    needs_review: bool


def load_model(
    path: Path = MODEL_DIR, *, threshold: float | None = None, margin: float | None = None
) -> IntentModel:
    """Load a trained model directory.

    Args:
        path: a directory written by ``intents.train.train``.
        threshold: one threshold for every label instead of the tuned ones (None keeps them).
        margin: the review margin instead of the tuned one (None keeps it).

    Returns:
        The model, ready for :func:`classify`.

    Raises:
        ModelError: the directory is missing or is not a trained intents model.
    """
    if not (path / "config.cfg").is_file():
        raise ModelError(f"no model at {path} (config.cfg missing); run `dsr train`")
    try:
        nlp = spacy.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load model at {path}: {exc}; run `dsr train`") from exc
    meta = nlp.meta.get("dsr")
    if not isinstance(meta, dict) or "thresholds" not in meta:
        raise ModelError(f"model at {path} has no tuned thresholds in meta.json; run `dsr train`")
    secondary = float(meta.get("secondary", 0.0))
    model = IntentModel(nlp, dict(meta["thresholds"]), float(meta["margin"]), meta, secondary)
    return with_overrides(model, threshold=threshold, margin=margin)


def with_overrides(
    model: IntentModel, *, threshold: float | None = None, margin: float | None = None
) -> IntentModel:
    """Return ``model`` with a global threshold and/or margin replacing the tuned values."""
    if threshold is not None:
        model = replace(model, thresholds=dict.fromkeys(LABELS, threshold))
    if margin is not None:
        model = replace(model, margin=margin)
    return model


#: Undecodable or control characters (tab and line breaks are fine).
_JUNK = re.compile("[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: A text with a larger share of them goes to a human.
MAX_JUNK = 0.02


def prepare_text(text: str) -> str:
    """Cut to :data:`MAX_CHARS` and replace what cannot be encoded (lone surrogates, NULs).

    A NUL becomes U+FFFD, not a space: it is junk inside a word, and must not split noise
    like "an<NUL>ID" into two plausible words.
    """
    cut = text[:MAX_CHARS].replace("\x00", "\ufffd")
    return cut.encode("utf-8", "replace").decode("utf-8")


def looks_like_words(doc: Doc) -> bool:
    """True when half of all non-space tokens are alphabetic words, two of them of three
    letters or more.

    Binary noise, base64 blobs and one endless "word" fail; such input always goes to a human.
    """
    flags = doc.to_array([IS_ALPHA, IS_SPACE, LENGTH])  # vectorised: no Token objects
    tokens = int((flags[:, 1] == 0).sum())
    alpha = flags[:, 0] == 1
    words = int((alpha & (flags[:, 2] > 1)).sum())
    long_words = int((alpha & (flags[:, 2] > 2)).sum())
    return long_words >= 2 and words * 2 >= tokens


def junk_share(text: str) -> float:
    """The share of characters that are undecodable (U+FFFD) or control characters other than
    tab and line breaks: damage, not language."""
    if not text:
        return 0.0
    return len(_JUNK.findall(text)) / len(text)


def _result(model: IntentModel, doc: Doc, junk: float = 0.0) -> Classification:
    # An empty doc gets no evidence at all (spaCy scores it only when batched with others).
    scores = {label: float(doc.cats.get(label, 0.0)) if len(doc) else 0.0 for label in LABELS}
    decision = decide(scores, model.thresholds, model.margin, model.secondary)
    # Text in no language we know (or none at all) always goes to a human.
    # More than MAX_JUNK of damaged characters: the words around them are likely noise too.
    unknown = doc._.language == UNDETERMINED or junk > MAX_JUNK or not looks_like_words(doc)
    review = decision.needs_review or unknown
    return Classification(decision.intent, decision.intents, scores, str(doc._.language), review)


def classify(model: IntentModel, text: str) -> Classification:
    """Classify one text. Never raises for any string (empty text gives a review case)."""
    prepared = prepare_text(text)
    return _result(model, model.nlp(prepared), junk_share(prepared))


def classify_many(
    model: IntentModel, texts: Iterable[str], batch_size: int = 128
) -> list[Classification]:
    """Classify many texts in batches (faster than one by one); order is kept."""
    prepared = [prepare_text(text) for text in texts]
    docs = model.nlp.pipe(prepared, batch_size=batch_size)
    return [_result(model, doc, junk_share(t)) for doc, t in zip(docs, prepared, strict=True)]
