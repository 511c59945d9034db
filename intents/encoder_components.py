"""spaCy factories for the pretrained half of the pipeline.

``language_gate`` names languages we do not understand (py3langid, 97 languages, model in the
wheel); ``sentence_encoder`` writes multilingual sentence features (intents.encoder);
``encoder_textcat`` scores them with a small MLP, mixes its scores with the lexical
``textcat_multilabel`` ones, and measures how near the text is to the training corpus.
Importing this module registers them.
"""

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from spacy.language import Language
from spacy.tokens import Doc

from intents.encoder import (
    BLOCKS,
    DIM,
    VERSION,
    WEIGHTS_SHA256,
    Floats,
    SentenceEncoder,
    check_installed,
    text_features,
    unit_gist,
)
from intents.errors import ModelError
from intents.gate_model import load_identifier
from intents.labels import LABELS
from intents.langid import UNDETERMINED
from intents.mlp import MLP
from intents.tokenizer import RAW_TEXT

for _name, _default in (
    ("language_supported", True),
    ("sentence_features", None),
    ("cats_lexical", None),
    ("cats_encoder", None),
    ("nearest", 1.0),
):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=_default)

#: Language codes of py3langid that we read as one of ours (variants and scripts of one language).
ALIASES = {
    "no": "nb",
    "nn": "nb",
    "yue": "zh",
    "wuu": "zh",
    "ary": "ar",
    "arz": "ar",
    "bs": "hr",
    "sr": "hr",
}
#: py3langid labels left out: historic, constructed or regional varieties that real mail in a
#: language we know (romanised Greek, transliterated Russian) is mistaken for.
EXCLUDED = frozenset({"ht", "vo", "la", "sa", "an", "wa", "eo"})


def identifiable_languages(labels: Iterable[str]) -> list[str]:
    """The py3langid labels the gate may answer: two-letter ISO 639-1 codes (less
    :data:`EXCLUDED`) and the variants in :data:`ALIASES`."""
    return [
        label
        for label in dict.fromkeys(labels)
        if (len(label) == 2 and label not in EXCLUDED) or label in ALIASES
    ]


def raw_text(doc: Doc) -> str:
    """The text as given to the tokenizer (line breaks kept), else ``doc.text``.

    Not ``user_data.get(RAW_TEXT, doc.text)``: the default would rebuild the text from every
    token each time (a tenth of the time of classifying a message).
    """
    raw = doc.user_data.get(RAW_TEXT)
    return raw if isinstance(raw, str) else doc.text


def write_component_json(
    folder: Path, name: str, data: dict[str, Any], *, sort_keys: bool = False
) -> None:
    """Write a pipeline component's JSON file ``name`` into ``folder`` (created), one line."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data, sort_keys=sort_keys) + "\n")


def read_component_json(path: Path, what: str) -> dict[str, Any]:
    """A pipeline component's JSON file.

    Raises:
        ModelError: missing or unreadable (the message says to run `dsr train`).
    """
    try:
        return cast(dict[str, Any], json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{what} data in {path} is unreadable ({exc}); run `dsr train`") from exc


class LanguageGate:
    """Marks text in a language outside ``supported`` (by py3langid) and names that language.

    Runs after ``language_detector`` (trained on our corpus, which knows our languages best).
    When py3langid's most likely language is not one of ours and the languages that are not
    ours together have at least ``min_foreign`` of its probability (Indonesian and Malay share
    theirs), that language replaces the detector's guess in ``doc._.language`` and
    ``doc._.language_supported`` is False. When the detector found no language but py3langid
    is as sure of one of ours, that one is taken. Otherwise the detector's answer stands.
    """

    def __init__(self, name: str, min_foreign: float, max_chars: int) -> None:
        self.name = name
        self.min_foreign = min_foreign
        self.max_chars = max_chars
        self.supported: tuple[str, ...] = ()
        self._identifier: Any = None
        self._labels: frozenset[str] = frozenset()

    def _ready(self) -> Any:
        if self._identifier is None:
            identifier = load_identifier(identifiable_languages)
            self._labels = frozenset(identifier.nb_classes)
            self._identifier = identifier
        return self._identifier

    def warm(self) -> None:
        """Load py3langid's model now rather than on the first message."""
        self._ready()

    @property
    def languages(self) -> list[str]:
        """Every language the gate can name (ISO 639-1, aliases folded)."""
        self._ready()
        return sorted({ALIASES.get(x, x) for x in self._labels})

    def identify(self, text: str) -> tuple[str, float, float]:
        """py3langid's language (aliases folded into ours), its probability, and the total
        probability of languages that are not ours, among :func:`identifiable_languages`.

        Renormalising over those labels equals restricting py3langid to them (its scores are a
        softmax), without a second copy of its table.
        """
        ranked = [(x, float(p)) for x, p in self._ready().rank(text) if x in self._labels]
        total = sum(p for _, p in ranked) or 1.0
        language = ALIASES.get(ranked[0][0], ranked[0][0])
        foreign = sum(p for x, p in ranked if ALIASES.get(x, x) not in self.supported)
        return language, ranked[0][1] / total, foreign / total

    def __call__(self, doc: Doc) -> Doc:
        text = raw_text(doc)[: self.max_chars]
        if not text.strip():
            return doc
        language, probability, foreign = self.identify(text)
        if language not in self.supported and foreign >= self.min_foreign:
            doc._.language = language
            doc._.language_score = probability
            doc._.language_supported = False
        elif doc._.language == UNDETERMINED and 1.0 - foreign >= self.min_foreign:
            # Our detector knows only the corpus' characters (rare Chinese ones fit none).
            doc._.language = language
            doc._.language_score = probability
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Apply to a stream of docs."""
        for doc in docs:
            yield self(doc)

    def to_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> None:
        """Write the supported languages."""
        write_component_json(path, "gate.json", {"supported": list(self.supported)})

    def from_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> "LanguageGate":
        """Read what ``to_disk`` wrote.

        Raises:
            ModelError: the file is missing or unreadable.
        """
        info = read_component_json(Path(path) / "gate.json", "language gate")
        self.supported = tuple(str(x) for x in info.get("supported", []))
        return self


@Language.factory("language_gate", default_config={"min_foreign": 0.9, "max_chars": 600})
def make_language_gate(
    nlp: Language, name: str, min_foreign: float, max_chars: int
) -> LanguageGate:
    """Factory for :class:`LanguageGate` (supported languages are set by training)."""
    return LanguageGate(name, min_foreign, max_chars)


def _understood(doc: Doc) -> bool:
    """Whether the language steps found a language we understand."""
    return bool(doc._.language_supported) and doc._.language != UNDETERMINED


class SentenceEncoderComponent:
    """Writes ``doc._.sentence_features`` (see :func:`intents.encoder.text_features`)."""

    def __init__(self, name: str, max_chars: int, piece_chars: int, threads: int) -> None:
        self.name = name
        self.max_chars = max_chars
        self.piece_chars = piece_chars
        self.encoder = SentenceEncoder(threads=threads)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def warm(self) -> None:
        """Load the encoder's weights now rather than on the first message."""
        self.encoder.load()

    def features(self, texts: list[str]) -> Floats:
        """Features for raw texts (used by training, which embeds each text once)."""
        return text_features(self.encoder, texts, self.max_chars, self.piece_chars)

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Embed a batch at a time (the encoder is much faster on batches)."""
        stream = iter(docs)
        while batch := list(islice(stream, batch_size)):
            # A text in a language we do not understand, or in none, goes to a person whatever
            # its scores: it is not encoded (zero features).
            read = [i for i, doc in enumerate(batch) if _understood(doc)]
            # The tokenizer keeps the raw text: its line breaks separate sentences.
            found = self.features([raw_text(batch[i]) for i in read])
            rows = dict(zip(read, found, strict=True))
            for i, doc in enumerate(batch):
                doc._.sentence_features = rows.get(i, np.zeros(len(BLOCKS) * DIM, dtype=np.float32))
                yield doc

    def to_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> None:
        """Record the encoder's version and weight checksums the model was trained with."""
        info = {"version": VERSION, "sha256": WEIGHTS_SHA256}
        write_component_json(path, "encoder.json", info, sort_keys=True)

    def from_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> "SentenceEncoderComponent":
        """Check that the installed encoder is the one the model was trained with.

        Raises:
            ModelError: another version or other weights are installed.
        """
        info = read_component_json(Path(path) / "encoder.json", "sentence encoder")
        check_installed(cast(dict[str, str], info.get("sha256", {})))
        return self


@Language.factory(
    "sentence_encoder", default_config={"max_chars": 2000, "piece_chars": 250, "threads": 1}
)
def make_sentence_encoder(
    nlp: Language, name: str, max_chars: int, piece_chars: int, threads: int
) -> SentenceEncoderComponent:
    """Factory for :class:`SentenceEncoderComponent` (weights load on first use)."""
    return SentenceEncoderComponent(name, max_chars, piece_chars, threads)


#: Training gists widened to float32 at a time when measuring nearness (2 MiB).
_MEMORY_BLOCK = 1024


def quantise(memory: Floats) -> tuple[npt.NDArray[np.int8], Floats]:
    """Unit gists as int8 with one scale per row (the row's largest magnitude / 127).

    Half of float16's memory (3.7 MiB for 7,200 texts), and widened to float32 in a twelfth of
    the time: numpy has no fast float16 path, and widening float16 gists cost 7.6 ms of the 8 ms
    a lone message took to classify. A cosine moves by less than 0.002 (none of the corpus's
    7,564 decisions changed).
    """
    memory = np.asarray(memory, dtype=np.float32)
    scale = (
        (np.abs(memory).max(axis=1) / 127.0).astype(np.float32)
        if len(memory)
        else np.zeros(0, np.float32)
    )
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    codes = np.clip(np.rint(memory / safe), -127, 127).astype(np.int8)
    return codes, scale


#: The languages the sentence encoder was trained on (ISO 639-1; Thai has no corpus here). In
#: the others it understands by transfer only, and the lexical model, which learns from our own
#: examples of them, deserves more of the say.
ENCODER_LANGUAGES = frozenset(
    {"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"}
)


def encoder_share(inside: bool, weight: float, other_weight: float | None) -> float:
    """The encoder's share for text ``inside`` :data:`ENCODER_LANGUAGES` or not: ``weight``
    inside, ``other_weight`` outside (``weight`` for all when it is None)."""
    return weight if inside or other_weight is None else other_weight


class EncoderTextCat:
    """Scores sentence features, mixes them with the lexical scores, and measures novelty.

    ``doc.cats`` becomes ``w * encoder + (1 - w) * lexical``, with ``w = weight`` for text in one
    of :data:`ENCODER_LANGUAGES` and ``other_weight`` for the rest (``weight`` when None); both
    parts stay in ``doc._.cats_encoder`` and ``doc._.cats_lexical``. ``doc._.nearest`` is the
    highest cosine between the text's gist and any training text's: low means unlike anything
    we trained on.
    """

    def __init__(self, name: str, weight: float) -> None:
        self.name = name
        self.weight = weight
        self.other_weight: float | None = None
        dim = 1
        self.mlp = MLP(
            np.zeros((dim, 1), np.float32),
            np.zeros(1, np.float32),
            np.zeros((1, len(LABELS)), np.float32),
            np.zeros(len(LABELS), np.float32),
        )
        #: Unit gists of the training texts, int8 with a scale per row (see ``quantise``).
        self.memory: npt.NDArray[np.int8] = np.zeros((0, 1), dtype=np.int8)
        self.memory_scale: Floats = np.zeros(0, dtype=np.float32)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """Score a batch at a time."""
        stream = iter(docs)
        while batch := list(islice(stream, batch_size)):
            features = np.stack([doc._.sentence_features for doc in batch]).astype(np.float32)
            # The classifier reads the leading blocks it was trained on (all three in models
            # written before ``encoder_blocks``; see ``intents.encoder.BLOCKS``).
            encoder = self.mlp.predict(features[:, : self.mlp.w1.shape[0]])
            nearest = self.nearest(features)
            for row, doc in enumerate(batch):
                lexical = {label: float(doc.cats.get(label, 0.0)) for label in LABELS}
                ours = {label: float(encoder[row, i]) for i, label in enumerate(LABELS)}
                doc._.cats_lexical = lexical
                doc._.cats_encoder = ours
                doc._.nearest = float(nearest[row])
                weight = self.weight_for(str(doc._.language))
                doc.cats = {
                    label: weight * ours[label] + (1.0 - weight) * lexical[label]
                    for label in LABELS
                }
                yield doc

    def weight_for(self, language: str) -> float:
        """The encoder's share in the mixed scores of text in ``language``."""
        return encoder_share(language in ENCODER_LANGUAGES, self.weight, self.other_weight)

    def nearest(self, features: Floats) -> Floats:
        """Highest cosine of each row's gist to the stored training gists (1.0 with none)."""
        if not len(self.memory):
            return np.ones(len(features), dtype=np.float32)
        gist = unit_gist(features)
        best: Floats = np.full(len(features), -1.0, dtype=np.float32)
        wide = np.empty((min(_MEMORY_BLOCK, len(self.memory)), self.memory.shape[1]), np.float32)
        for start in range(0, len(self.memory), _MEMORY_BLOCK):
            block = self.memory[start : start + _MEMORY_BLOCK]
            rows = wide[: len(block)]
            np.copyto(rows, block, casting="unsafe")
            cosines = gist @ rows.T
            cosines *= self.memory_scale[start : start + len(block)]
            np.maximum(best, cosines.max(axis=1), out=best)
        return best

    def set_weights(self, mlp: MLP, weight: float, memory: Floats) -> None:
        """Install trained weights, the mixing weight and the training gists."""
        self.mlp, self.weight = mlp, weight
        # Rounded as stored, so a loaded model scores exactly as the trained one.
        self.memory, self.memory_scale = quantise(memory)

    def to_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> None:
        """Write ``mlp.npz`` (weights and training gists, int8 and their scales) and
        ``mix.json``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        with (path / "mlp.npz").open("wb") as handle:
            arrays: dict[str, Any] = {
                "memory_q": self.memory,
                "memory_scale": self.memory_scale,
                **self.mlp.arrays(),
            }
            np.savez(handle, **arrays)
        mix = {"weight": self.weight, "other_weight": self.other_weight}
        write_component_json(path, "mix.json", mix)

    def from_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> "EncoderTextCat":
        """Read what ``to_disk`` wrote.

        Raises:
            ModelError: a file is missing or unreadable.
        """
        path = Path(path)
        info = read_component_json(path / "mix.json", "encoder classifier")
        try:
            with np.load(path / "mlp.npz", allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
            self.mlp = MLP(arrays["w1"], arrays["b1"], arrays["w2"], arrays["b2"])
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"encoder classifier data in {path} is unreadable ({exc}); run `dsr train`"
            ) from exc
        if "memory_q" in arrays:
            self.memory, self.memory_scale = arrays["memory_q"], arrays["memory_scale"]
        else:  # a model written before int8 gists: float16 gists, quantised as training does
            self.memory, self.memory_scale = quantise(arrays["memory"])
        self.weight = float(info["weight"])
        other = info.get("other_weight")  # absent in models written before it existed
        self.other_weight = None if other is None else float(other)
        return self


@Language.factory("encoder_textcat", default_config={"weight": 0.3})
def make_encoder_textcat(nlp: Language, name: str, weight: float) -> EncoderTextCat:
    """Factory for :class:`EncoderTextCat` (untrained until ``set_weights`` or ``from_disk``)."""
    return EncoderTextCat(name, weight)
