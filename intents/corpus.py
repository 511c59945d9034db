"""Load, hash and split the labelled corpus (JSON lines: text, labels, lang, kind, situation).

Pure apart from reading files. The split is a function of the situation (or, without one, the
text) and the seed only: a situation and all its translations and variants land in one part, and
an example stays in its part when the corpus grows.
"""

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from intents.errors import CorpusError
from intents.labels import LABELS

#: The corpus shipped with the package.
CORPUS_DIR = Path(__file__).parent / "corpus"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text; ``labels`` has the main intent first."""

    text: str
    labels: tuple[str, ...]
    lang: str = ""
    kind: str = ""
    #: Shared by every translation and variant of one situation (empty: the text is its own).
    situation: str = ""

    @property
    def group(self) -> str:
        """The unit of the split: the situation, or the text when there is none."""
        return self.situation or self.text


def parse_line(line: str, where: str) -> Example:
    """Parse one corpus or evaluation line (``labels`` list or a single ``label``).

    Args:
        line: one JSON object.
        where: ``file:line`` used in the error message.

    Returns:
        The example.

    Raises:
        CorpusError: the line is not JSON, has no text, or names an unknown label.
    """
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{where}: not valid JSON ({exc.msg}); write one object a line") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        raise CorpusError(f"{where}: no string field 'text'; each line needs text and labels")
    raw = obj.get("labels", [obj["label"]] if "label" in obj else None)
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        raise CorpusError(f"{where}: 'labels' must be a non-empty list of strings (or 'label')")
    unknown = [x for x in raw if x not in LABELS]
    if unknown:
        raise CorpusError(f"{where}: unknown label {unknown[0]!r}; use one of {', '.join(LABELS)}")
    labels = tuple(dict.fromkeys(raw))
    situation = obj.get("situation") or ""
    if not isinstance(situation, str | int):
        raise CorpusError(f"{where}: 'situation' must be a string id shared by its variants")
    return Example(
        obj["text"],
        labels,
        str(obj.get("lang") or ""),
        str(obj.get("kind") or ""),
        str(situation),
    )


def load_jsonl(path: Path) -> list[Example]:
    """Read every non-blank line of one JSONL file.

    Raises:
        CorpusError: a line is malformed (the message names file and line number).
    """
    text = path.read_text(encoding="utf-8")
    return [
        parse_line(line, f"{path.name}:{number}")
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def corpus_files(directory: Path = CORPUS_DIR) -> list[Path]:
    """The corpus files in a stable (sorted by name) order."""
    return sorted(directory.glob("*.jsonl"), key=lambda p: p.name)


def load_corpus(paths: Iterable[Path]) -> list[Example]:
    """Load several files and drop repeated texts (the first occurrence wins).

    Raises:
        CorpusError: a line is malformed.
    """
    seen: set[str] = set()
    examples: list[Example] = []
    for path in paths:
        for example in load_jsonl(path):
            if example.text not in seen:
                seen.add(example.text)
                examples.append(example)
    return examples


def corpus_sha256(paths: Sequence[Path]) -> str:
    """SHA-256 over the names and bytes of the given files, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def bucket(text: str, seed: int) -> float:
    """A stable pseudo-random number in [0, 1) for a text, independent of Python's hash salt."""
    raw = hashlib.sha256(f"{seed}\0{text}".encode()).digest()
    return int.from_bytes(raw[:8], "big") / 2**64


def split(
    examples: Sequence[Example], seed: int, valid: float = 0.15, test: float = 0.15
) -> tuple[list[Example], list[Example], list[Example]]:
    """Split into train, validation and test parts by each situation's stable bucket.

    Examples without a situation are bucketed by their text, so all variants of a situation and
    nothing else decide its part.

    Returns:
        ``(train, valid, test)``; every example lands in exactly one part.
    """
    parts: tuple[list[Example], list[Example], list[Example]] = ([], [], [])
    for example in examples:
        b = bucket(example.group, seed)
        index = 2 if b < test else 1 if b < test + valid else 0
        parts[index].append(example)
    return parts
