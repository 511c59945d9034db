"""spaCy factories: the language detector and the case-insensitive BOW text-classifier architecture.

Importing this module registers them; ``intents.classify.load_model`` does so before loading.
"""

import json
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, cast

import numpy as np
from spacy.attrs import LOWER
from spacy.language import Language
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.ml.models.textcat import NEG_VALUE, resize_and_set_ref
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Logistic, Model, SparseLinear_v2, chain, resizable, with_cpu
from thinc.layers.resizable import resize_linear_weighted

import intents.tokenizer  # noqa: F401  (registers the word tokenizer)
from intents.errors import ModelError
from intents.features import HEAD_TOKENS, hashed_features
from intents.langid import UNDETERMINED, LanguageModel, fit_language_model

if not Doc.has_extension("language"):
    Doc.set_extension("language", default=UNDETERMINED)
if not Doc.has_extension("language_score"):
    Doc.set_extension("language_score", default=0.0)


def build_bow_lower(
    ngram_size: int, length: int = 262144, nO: int | None = None
) -> Model[Any, Any]:
    """spaCy's multi-label ``TextCatBOW.v3`` over LOWER instead of ORTH n-grams.

    spaCy's own BOW keys on ORTH, so "Auskunft" and "AUSKUNFT" would be different features;
    customers write in every case, so this one folds case.
    """
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    resizable_layer: Model[Any, Any] = resizable(
        sparse_linear,
        resize_layer=partial(resize_linear_weighted, fill_defaults={"b": NEG_VALUE, "W": 0}),
    )
    model: Model[Any, Any] = with_cpu(
        chain(extract_ngrams(ngram_size, attr=LOWER), resizable_layer), resizable_layer.ops
    )
    output = Logistic()
    model = chain(model, with_cpu(output, output.ops))
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = True
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model


def build_hashed_bow(
    ngram_size: int,
    char_low: int = 3,
    char_high: int = 5,
    length: int = 2**19,
    head_tokens: int = HEAD_TOKENS,
    nO: int | None = None,
) -> Model[Any, Any]:
    """Multi-label linear classifier over words, word n-grams and character n-grams.

    Same output layer and resizing as spaCy's BOW; only the features differ (intents.features).
    ``head_tokens`` > 0 adds the opening's features apart (models trained before the option).
    """
    length = 2 ** (length - 1).bit_length()
    sparse_linear = SparseLinear_v2(nO=nO, length=length)
    resizable_layer: Model[Any, Any] = resizable(
        sparse_linear,
        resize_layer=partial(resize_linear_weighted, fill_defaults={"b": NEG_VALUE, "W": 0}),
    )
    features = hashed_features(ngram_size, char_low, char_high, head_tokens)
    output = Logistic()
    model: Model[Any, Any] = chain(features, resizable_layer, output)
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = True
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model


registry.architectures.register("dsr.TextCatBOWLower.v1", func=build_bow_lower)
registry.architectures.register("dsr.TextCatHashedBOW.v1", func=build_hashed_bow)


#: Tokens of the opening that the language detector reads (about 300 characters).
LANGUAGE_TOKENS = 64


class LanguageDetector:
    """Pipeline component writing ``doc._.language`` (ISO 639-1 or ``und``) and its score."""

    def __init__(self, name: str, max_chars: int) -> None:
        self.name = name
        self.model = LanguageModel((), np.zeros((0, 1), dtype=np.float16), max_chars=max_chars)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Detect the language of a stream of docs, a batch at a time."""
        stream = iter(docs)
        while batch := list(islice(stream, batch_size)):
            # The opening is enough, and Doc.text would rebuild the whole text token by token.
            found = self.model.predict_many([doc[:LANGUAGE_TOKENS].text for doc in batch])
            for doc, (language, score) in zip(batch, found, strict=True):
                doc._.language = language
                doc._.language_score = score
                yield doc

    def fit(self, texts: list[str], langs: list[str]) -> None:
        """Train on texts and their language codes (empty codes are skipped)."""
        self.model = fit_language_model(texts, langs, max_chars=self.model.max_chars)

    def to_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> None:
        """Write ``languages.json`` and ``log_probs.npy`` (both byte-stable)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        info = {"languages": list(self.model.languages), "min_fit": float(self.model.min_fit)}
        (path / "languages.json").write_text(json.dumps(info) + "\n")
        with (path / "log_probs.npy").open("wb") as handle:
            np.save(handle, self.model.log_probs, allow_pickle=False)

    def from_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> "LanguageDetector":
        """Read what ``to_disk`` wrote.

        Raises:
            ModelError: a file is missing or unreadable.
        """
        path = Path(path)
        try:
            info = cast(dict[str, Any], json.loads((path / "languages.json").read_text()))
            languages = tuple(cast(list[str], info["languages"]))
            min_fit = float(info["min_fit"])
            log_probs = np.load(path / "log_probs.npy", allow_pickle=False).astype(
                np.float16, copy=False
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"language detector data in {path} is unreadable ({exc}); run `dsr train`"
            ) from exc
        self.model = LanguageModel(
            languages, log_probs, max_chars=self.model.max_chars, min_fit=min_fit
        )
        return self


@Language.factory("language_detector", default_config={"max_chars": 600})
def make_language_detector(nlp: Language, name: str, max_chars: int) -> LanguageDetector:
    """Factory for :class:`LanguageDetector` (untrained until ``fit`` or ``from_disk``)."""
    return LanguageDetector(name, max_chars)
