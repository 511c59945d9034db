"""Classify texts with the shipped (or a given) model: scores, intents, language, review flag.

Load once with :func:`load_model`; :func:`classify` and :func:`classify_many` are CPU-only and
never await (run them with ``asyncio.to_thread``).
"""

import json
import re
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import spacy
from spacy.attrs import IS_ALPHA, IS_PUNCT, IS_SPACE, LENGTH
from spacy.language import Language
from spacy.tokens import Doc

import intents.components
import intents.cue_component  # registers the article cue's factory
import intents.encoder_components  # noqa: F401  (registers the pretrained half's factories)
from intents.allocator import keep_heap_small
from intents.decide import decide
from intents.encoder import use_cache_dir
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
    #: Least top score for an automatic decision.
    min_score: float = 0.0
    #: Least cosine to the nearest training text; below it the text is out of distribution.
    ood_floor: float = 0.0
    #: Least lead of the top score over the best label left out (``decide``'s ``min_gap``).
    min_gap: float = 0.0


#: Review reasons besides those of :func:`intents.decide.decide`.
UNKNOWN_LANGUAGE = "unknown_language"
NO_TEXT = "no_text"
OUT_OF_DISTRIBUTION = "out_of_distribution"
#: One word alone and it is not an opt-out ("STOP", "Abmelden"): too little to act on.
ONE_WORD = "one_word"
#: The single words that are a whole opt-out on their own, in the reply languages (case-folded).
OPT_OUT_WORDS = frozenset(
    {
        "stop", "unsubscribe", "optout", "opt-out", "abmelden", "abbestellen", "afmelden",
        "uitschrijven", "avregistrera", "avprenumerera", "désabonner", "désinscrire",
        "désabonnement", "baja", "desuscribir", "disiscrivere", "disiscrizione", "descadastrar",
        "dezabonare", "wypisz", "wypisać", "отписаться", "отписка", "odhlásit", "odhlášení",
        "odjava", "odjaviti", "απεγγραφή",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Classification:
    """The result for one text; ``scores`` holds all six labels.

    ``language`` is an ISO 639 code, also for languages the model does not understand (then
    ``review_reason`` is ``unknown_language`` and the intent is no guess), or ``und``.
    ``review_reason`` says why ``needs_review``: ``unknown_language``, ``no_text`` (noise or
    nothing to read), ``out_of_distribution`` (unlike any training text), ``low_score``,
    ``close_intents``, ``contradiction`` or ``too_many_intents``; empty when no review.
    """

    intent: Intent
    intents: tuple[Intent, ...]
    scores: Mapping[str, float]
    language: str
    needs_review: bool
    review_reason: str = ""
    #: Sub-intents from `intents.rights.refine` (object_marketing, object, restrict); empty before.
    rights: tuple[str, ...] = ()
    #: Someone writes for another person (a lawyer, parent, agent); from `intents.rights.refine`.
    on_behalf: bool = False
    #: Intents whose article the text cites ("Art. 16 GDPR" → change; `intents.articles`).
    cited: tuple[str, ...] = ()


#: What :func:`load_model` leaves on disk (spaCy's name for the vocabulary directory).
VOCAB = "vocab"


def load_model(
    path: Path = MODEL_DIR,
    *,
    threshold: float | None = None,
    margin: float | None = None,
    cache_dir: Path | None = None,
) -> IntentModel:
    """Load a trained model directory.

    Args:
        path: a directory written by ``intents.train.train``.
        threshold: one threshold for every label instead of the tuned ones (None keeps them).
        margin: the review margin instead of the tuned one (None keeps it).
        cache_dir: where the encoder's unpacked embedding table is kept and mapped from
            (``DSR_CACHE_DIR``; see :mod:`intents.encoder_weights`); None holds it in memory.

    Returns:
        The model, ready for :func:`classify`.

    Raises:
        ModelError: the directory is missing or is not a trained intents model.
    """
    if not (path / "config.cfg").is_file():
        raise ModelError(f"no model at {path} (config.cfg missing); run `dsr train`")
    keep_heap_small()  # before the loading threads make arenas of their own
    use_cache_dir(cache_dir)
    try:
        # Not the vocabulary: its strings are the training texts' 105,000 words, which nothing
        # reads when classifying (a message's own words enter the vocabulary as it is
        # tokenised; features hash them), and they cost about 20 MiB of peak memory.
        nlp = spacy.load(path, exclude=[VOCAB])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot load model at {path}: {exc}; run `dsr train`") from exc
    _warm(nlp)
    meta = tuned_meta(path)
    model = IntentModel(
        nlp,
        dict(meta["thresholds"]),
        float(meta["margin"]),
        meta,
        secondary=float(meta.get("secondary", 0.0)),
        min_score=float(meta.get("min_score", 0.0)),
        ood_floor=float(meta.get("ood_floor", 0.0)),
        min_gap=float(meta.get("min_gap", 0.0)),
    )
    return with_overrides(model, threshold=threshold, margin=margin)


def tuned_meta(path: Path) -> dict[str, Any]:
    """The ``dsr`` block of a model's ``meta.json`` (tuned thresholds and floors), read with the
    standard library: spaCy's reader (srsly's ujson) parses 0.3 as 0.30000000000000004, so a
    threshold would not be the one tuned, nor the one the components read from their own files.

    Raises:
        ModelError: the file is unreadable or holds no tuned thresholds.
    """
    try:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8")).get("dsr")
    except (OSError, ValueError, AttributeError) as exc:
        raise ModelError(f"cannot read {path / 'meta.json'}: {exc}; run `dsr train`") from exc
    if not isinstance(meta, dict) or "thresholds" not in meta:
        raise ModelError(f"model at {path} has no tuned thresholds in meta.json; run `dsr train`")
    return meta


def _warm(nlp: Language) -> None:
    """Load the components' own resources (encoder weights, language model) side by side.

    Both loads spend much of their time decompressing, which runs outside the GIL.
    """
    warmers = [c.warm for _, c in nlp.pipeline if hasattr(c, "warm")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(warm) for warm in warmers]:
            done.result()


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


#: Chinese, Japanese and Korean characters: written without spaces, one "token" is a phrase.
_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def looks_like_words(doc: Doc) -> bool:
    """True when half of all tokens other than spaces and punctuation are alphabetic words, two
    of them of three letters or more (or, in Chinese, Japanese and Korean, four such characters).

    Binary noise, base64 blobs and one endless "word" fail; such input always goes to a human.
    Punctuation does not count against the text: printed forms have dotted lines.
    """
    opening = "".join(doc[:64].text.split())
    cjk = len(_CJK.findall(opening))
    if cjk >= 4 and cjk * 3 >= len(opening):  # CJK punctuation is a token of its own
        return True
    flags = doc.to_array([IS_ALPHA, IS_SPACE, LENGTH, IS_PUNCT])  # vectorised: no Token objects
    tokens = int(((flags[:, 1] == 0) & (flags[:, 3] == 0)).sum())
    alpha = flags[:, 0] == 1
    words = int((alpha & (flags[:, 2] > 1)).sum())
    long_words = int((alpha & (flags[:, 2] > 2)).sum())
    if words * 2 < tokens:
        return False
    # One plain word ("unsubscribe", "STOP") is a message too; one endless "word" is not.
    return long_words >= 2 or (long_words == 1 and tokens <= 2 and len(doc.text) <= 30)


def junk_share(text: str) -> float:
    """The share of characters that are undecodable (U+FFFD) or control characters other than
    tab and line breaks: damage, not language."""
    if not text:
        return 0.0
    return len(_JUNK.findall(text)) / len(text)


def one_word(doc: Doc) -> str | None:
    """The text's only word of letters, case-folded, when it has at most one (punctuation,
    symbols and numbers around it do not count; a Chinese, Japanese or Korean phrase is one
    token, so such text is never "one word"); otherwise None."""
    words = [t.text for t in doc if t.is_alpha]
    if len(words) > 1 or _CJK.search(doc.text):
        return None
    return words[0].casefold() if words else ""


def review_reason(
    model: IntentModel, doc: Doc, junk: float, decision_reason: str, intent: str = ""
) -> str:
    """Why a human must read this text, most basic cause first; empty when no one must.

    A single word acts on its own only when it is an opt-out word (`OPT_OUT_WORDS`) read as an
    opt-out: any other one-word text ("dos:", a name, a stray subject line) is too little to
    open a request without a person."""
    if not doc._.language_supported:
        return UNKNOWN_LANGUAGE  # a language we do not understand: no guess at all
    # Text in no language at all, or more than MAX_JUNK damaged characters (the words around
    # them are likely noise too).
    if doc._.language == UNDETERMINED or junk > MAX_JUNK or not looks_like_words(doc):
        return NO_TEXT
    if float(doc._.nearest) < model.ood_floor:
        return OUT_OF_DISTRIBUTION  # unlike every training text: the scores mean little
    word = one_word(doc) if not decision_reason else None
    if word is not None and not (intent == Intent.UNSUBSCRIBE and word in OPT_OUT_WORDS):
        return ONE_WORD
    return decision_reason


def _result(model: IntentModel, doc: Doc, junk: float = 0.0) -> Classification:
    # An empty doc gets no evidence at all (spaCy scores it only when batched with others).
    scores = {label: float(doc.cats.get(label, 0.0)) if len(doc) else 0.0 for label in LABELS}
    decision = decide(
        scores, model.thresholds, model.margin, model.secondary, model.min_score, model.min_gap
    )
    reason = review_reason(model, doc, junk, decision.reason, decision.intent)
    intents = decision.intents if doc._.language_supported else ()
    return Classification(
        decision.intent,
        intents,
        scores,
        str(doc._.language),
        bool(reason),
        reason,
        cited=tuple(doc._.cited_intents),
    )


#: One classification at a time per process. Each runs in a spaCy memory zone, which forgets
#: the words it added to the shared vocabulary when it ends; a second zone open at once could
#: forget words the first one is still reading.
_ONE_AT_A_TIME = threading.Lock()


def classify(model: IntentModel, text: str) -> Classification:
    """Classify one text. Never raises for any string (empty text gives a review case)."""
    prepared = prepare_text(text)
    with _ONE_AT_A_TIME, model.nlp.memory_zone():
        return _result(model, model.nlp(prepared), junk_share(prepared))


def classify_many(
    model: IntentModel, texts: Iterable[str], batch_size: int = 128
) -> list[Classification]:
    """Classify many texts in batches (faster than one by one); order is kept.

    Neither this nor :func:`classify` leaves anything behind: every word of a message enters
    spaCy's vocabulary while it is read, and without the memory zone a desk that runs for months
    would keep every word of every message it ever read (about 29,000 strings per 1,000
    messages of unseen words).
    """
    prepared = [prepare_text(text) for text in texts]
    with _ONE_AT_A_TIME, model.nlp.memory_zone():
        docs = model.nlp.pipe(prepared, batch_size=batch_size)
        return [_result(model, doc, junk_share(t)) for doc, t in zip(docs, prepared, strict=True)]
