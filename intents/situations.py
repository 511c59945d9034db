"""Group corpus examples that tell one situation (translations and variants) under one id.

The corpus' first 4,652 examples were written as loose translations of each other in 14
languages, without a ``situation`` field. An honest split must keep a situation and all its
versions on one side, so they are grouped here: two texts with the same labels and kind are one
situation when each is the other's nearest neighbour in the other's language (translations
embed close in the multilingual encoder), or when they are near-duplicates in one language.
Groups are closed under these links. Run ``python -m intents.situations FILE...`` to write the
ids into corpus files that lack them (lines that have one are kept as they are).
"""

import argparse
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from intents.corpus import Example, load_jsonl
from intents.encoder import SentenceEncoder, text_features, unit_gist

#: Cosine of mutual nearest neighbours across languages that makes two texts one situation.
CROSS_LINGUAL = 0.5
#: Cosine of two texts in one language that makes them variants of one situation.
SAME_LANGUAGE = 0.85


class _Groups:
    """Union-find over example indexes."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _nearest(
    similarity: npt.NDArray[np.float32], keys: Sequence[str], langs: Sequence[str]
) -> dict[tuple[int, str], int]:
    """For each example and language, its most similar example there with the same key."""
    by_key_lang: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, (key, lang) in enumerate(zip(keys, langs, strict=True)):
        by_key_lang[(key, lang)].append(index)
    best: dict[tuple[int, str], int] = {}
    for index, key in enumerate(keys):
        for lang in sorted(set(langs)):
            candidates = [j for j in by_key_lang.get((key, lang), []) if j != index]
            if candidates:
                row = similarity[index, candidates]
                best[(index, lang)] = candidates[int(np.argmax(row))]
    return best


def group_situations(
    examples: Sequence[Example],
    vectors: npt.NDArray[np.float32],
    cross_lingual: float = CROSS_LINGUAL,
    same_language: float = SAME_LANGUAGE,
) -> list[str]:
    """A situation id for each example (examples with a situation keep theirs).

    Args:
        examples: the examples to group.
        vectors: one L2-normalised vector per example.
        cross_lingual: least cosine of mutual nearest neighbours in two languages.
        same_language: least cosine of two variants in one language.

    Returns:
        Ids ``s-<10 hex>``, derived from the group's texts (stable when nothing changes).
    """
    similarity = (vectors @ vectors.T).astype(np.float32)
    keys = ["|".join(sorted(ex.labels)) + "#" + ex.kind for ex in examples]
    langs = [ex.lang for ex in examples]
    groups = _Groups(len(examples))
    best = _nearest(similarity, keys, langs)
    for (index, lang), other in best.items():
        if lang == langs[index]:
            if similarity[index, other] >= same_language:
                groups.join(index, other)
        elif best.get((other, langs[index])) == index and (
            similarity[index, other] >= cross_lingual
        ):
            groups.join(index, other)
    members: dict[int, list[int]] = defaultdict(list)
    for index in range(len(examples)):
        members[groups.find(index)].append(index)
    ids = [ex.situation for ex in examples]
    for group in members.values():
        anchor = min(examples[i].text for i in group)
        name = "s-" + hashlib.sha256(anchor.encode()).hexdigest()[:10]
        for i in group:
            ids[i] = ids[i] or name
    return ids


def annotate(paths: Sequence[Path], encoder: SentenceEncoder) -> int:
    """Write situation ids into the lines of ``paths`` that have none; returns lines changed.

    The files are grouped together (translations live in different files); other fields and
    the order of lines stay as they were.
    """
    examples = [ex for path in paths for ex in load_jsonl(path)]
    todo = [ex for ex in examples if not ex.situation]
    if not todo:
        return 0
    vectors = unit_gist(text_features(encoder, [ex.text for ex in todo], 2000, 250))
    named = dict(zip((ex.text for ex in todo), group_situations(todo, vectors), strict=True))
    changed = 0
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        out: list[str] = []
        for line in lines:
            if not line.strip():
                out.append(line)
                continue
            obj = json.loads(line)
            if not obj.get("situation") and obj["text"] in named:
                obj["situation"] = named[obj["text"]]
                changed += 1
            out.append(json.dumps(obj, ensure_ascii=False))
        path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m intents.situations FILE...``: fill in missing situation ids."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    changed = annotate(args.files, SentenceEncoder(threads=1))
    print(f"{changed} lines given a situation id")


if __name__ == "__main__":
    main()
