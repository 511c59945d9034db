"""Which right a request invokes beyond the six intents: objection to direct marketing (Art. 21(2)),
other objection (Art. 21(1)), restriction (Art. 18), and whether someone writes for another person.

A lexical model: cue words per group in the 14 reply languages (`intents.rights_cues`), matched
on case- and accent-folded text, and a small decision over the groups found. Its own corpus
(``intents/corpus/rights/*.jsonl``) measures it; a counted baseline (multinomial naive Bayes
over character 2–4-grams), held out by situation, is measured beside it and decides nothing (it
added no correct answer on held-out situations). Pure: no I/O after loading the corpus.
Measure both with ``python -m intents.rights``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

from intents import rights_cues

if TYPE_CHECKING:
    from intents.classify import Classification

#: The sub-intents (``none`` means the message invokes none of them).
OBJECT_MARKETING: Final = "object_marketing"
OBJECT: Final = "object"
RESTRICT: Final = "restrict"
NONE: Final = "none"
RIGHTS: Final = (OBJECT_MARKETING, OBJECT, RESTRICT)
#: The corpus of this model (its own; the main classifier's corpus is not used).
CORPUS_DIR = Path(__file__).parent / "corpus" / "rights"

#: Review reasons of the main classifier that a found sub-intent settles.
SETTLES_REVIEW: Final = frozenset({"low_score", "close_intents"})

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class RightsExample:
    """One corpus line: a text, its sub-intent, whether it is written for someone else."""

    text: str
    rights: str
    on_behalf: bool
    situation: str
    language: str


def load_corpus(folder: Path = CORPUS_DIR) -> list[RightsExample]:
    """Every example of the rights corpus, file by file."""
    out: list[RightsExample] = []
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            raw = json.loads(line)
            label = raw["rights"]
            if label not in (*RIGHTS, NONE):
                raise ValueError(f"{path.name}:{number}: unknown rights label {label!r}")
            out.append(
                RightsExample(
                    raw["text"], label, bool(raw["on_behalf"]), raw["situation"], raw["language"]
                )
            )
    return out


def features(text: str) -> Counter[str]:
    """Character 2–4-grams inside each word (with word edges), case- and accent-folded."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    grams: Counter[str] = Counter()
    for word in _WORD.findall(folded):
        padded = f"<{word}>"
        for n in (2, 3, 4):
            grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


@dataclass(frozen=True)
class NaiveBayes:
    """Multinomial naive Bayes with add-one smoothing; classes are strings."""

    priors: dict[str, float]
    log_probs: dict[str, dict[str, float]]
    unseen: dict[str, float]

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> NaiveBayes:
        """Count `texts` per label."""
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        docs: Counter[str] = Counter(labels)
        vocab: set[str] = set()
        for text, label in zip(texts, labels, strict=True):
            grams = features(text)
            counts[label].update(grams)
            vocab.update(grams)
        size = len(vocab) + 1
        log_probs, unseen = {}, {}
        for label, grams in counts.items():
            total = sum(grams.values()) + size
            log_probs[label] = {g: math.log((c + 1) / total) for g, c in grams.items()}
            unseen[label] = math.log(1 / total)
        priors = {label: math.log(n / len(labels)) for label, n in docs.items()}
        return cls(priors, log_probs, unseen)

    def posteriors(self, text: str) -> dict[str, float]:
        """Each label's posterior for `text` (sums to 1)."""
        grams = features(text)
        scores = {
            label: prior
            + sum(n * self.log_probs[label].get(g, self.unseen[label]) for g, n in grams.items())
            for label, prior in self.priors.items()
        }
        # The raw sums are over hundreds of grams: scale them down as a per-gram average, so the
        # posteriors are not always 0 or 1 (a calibrated score, not a different decision).
        size = max(1, sum(grams.values()))
        top = max(scores.values())
        exp = {k: math.exp((v - top) / math.sqrt(size)) for k, v in scores.items()}
        total = sum(exp.values())
        return {k: v / total for k, v in exp.items()}


@dataclass(frozen=True)
class RightsModel:
    """The sub-intent model and the "on behalf" model."""

    rights: NaiveBayes
    behalf: NaiveBayes

    @classmethod
    def fit(cls, examples: Sequence[RightsExample]) -> RightsModel:
        """Count `examples`."""
        texts = [e.text for e in examples]
        return cls(
            NaiveBayes.fit(texts, [e.rights for e in examples]),
            NaiveBayes.fit(texts, ["yes" if e.on_behalf else "no" for e in examples]),
        )


@dataclass(frozen=True)
class Refinement:
    """What the rights model found in one text."""

    rights: tuple[str, ...]
    on_behalf: bool
    #: The cue groups found (OBJECTION, MARKETING, RESTRICTION, ON_BEHALF).
    cues: frozenset[str]


def _fold(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    return "".join(c for c in folded if not unicodedata.combining(c))


def _cue_pattern(cues: Iterable[str]) -> re.Pattern[str]:
    alternatives = sorted({re.escape(_fold(c)) for c in cues}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + ")")


_CUES = {
    name: _cue_pattern(getattr(rights_cues, name))
    for name in ("OBJECTION", "MARKETING", "RESTRICTION", "ON_BEHALF")
}


def cues(text: str) -> frozenset[str]:
    """The cue groups found in `text` (OBJECTION, MARKETING, RESTRICTION, ON_BEHALF)."""
    folded = _fold(text)
    return frozenset(name for name, pattern in _CUES.items() if pattern.search(folded))


def cue_label(found: frozenset[str]) -> str:
    """The sub-intent the cue groups point to (restriction first: "don't delete yet, stop
    using it" is a restriction, not an objection)."""
    if "RESTRICTION" in found:
        return RESTRICT
    if "OBJECTION" in found:
        return OBJECT_MARKETING if "MARKETING" in found else OBJECT
    return NONE


def refine_text(text: str) -> Refinement:
    """The sub-intents and the "on behalf" flag of `text` (pure)."""
    found = cues(text)
    label = cue_label(found)
    return Refinement(() if label == NONE else (label,), "ON_BEHALF" in found, found)


def refine(result: Classification, text: str) -> Classification:
    """`result` with the sub-intents and the "on behalf" flag of `text` filled in.

    The six-way classifier has no label for these rights, so a restriction or an objection
    often scores low there: a sub-intent found here settles a review for a low score or two
    close intents (what follows still goes through verification and staff, or only opts the
    sender's own address out). Any other review reason (unknown language, no text, out of
    distribution, …) keeps the message for a person, without sub-intents; "on behalf" is
    marked either way so staff see it.
    """
    found = refine_text(text)
    if not result.needs_review:
        return replace(result, rights=found.rights, on_behalf=found.on_behalf)
    if found.rights and result.review_reason in SETTLES_REVIEW:
        return replace(
            result,
            rights=found.rights,
            on_behalf=found.on_behalf,
            needs_review=False,
            review_reason="",
        )
    return replace(result, rights=(), on_behalf=found.on_behalf)


# --- measurement ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Figures on the corpus: the cue model's accuracy (sub-intent, "on behalf"), per-label
    recall and errors; the counted baseline's accuracy held out by situation."""

    examples: int
    situations: int
    rights_accuracy: float
    behalf_accuracy: float
    recall: dict[str, float]
    errors: list[tuple[str, str, str, str]]
    baseline_rights: float
    baseline_behalf: float


def evaluate(examples: Sequence[RightsExample]) -> Figures:
    """The cue model on every example (it learns nothing from the corpus), and the counted
    baseline leaving one situation out: every situation (all its languages) is predicted by a
    model counted from the other situations only."""
    situations = sorted({e.situation for e in examples})
    right = behalf_right = base_right = base_behalf = 0
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    errors: list[tuple[str, str, str, str]] = []
    for e in examples:
        found = refine_text(e.text)
        got = found.rights[0] if found.rights else NONE
        per[e.rights][1] += 1
        if got == e.rights:
            right += 1
            per[e.rights][0] += 1
        else:
            errors.append((e.situation, e.language, e.rights, got))
        behalf_right += found.on_behalf == e.on_behalf
    for held in situations:
        model = RightsModel.fit([e for e in examples if e.situation != held])
        for e in (x for x in examples if x.situation == held):
            post = model.rights.posteriors(e.text)
            base_right += max(post, key=lambda k: post[k]) == e.rights
            behalf = model.behalf.posteriors(e.text).get("yes", 0.0) >= 0.5
            base_behalf += behalf == e.on_behalf
    n = len(examples)
    return Figures(
        n,
        len(situations),
        right / n,
        behalf_right / n,
        {k: v[0] / v[1] for k, v in sorted(per.items())},
        errors,
        base_right / n,
        base_behalf / n,
    )


def main(argv: Iterable[str] | None = None) -> None:
    """`python -m intents.rights [--errors]`: the figures of the shipped corpus."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--errors", action="store_true", help="list the misclassified examples")
    args = parser.parse_args(list(argv) if argv is not None else None)
    fig = evaluate(load_corpus())
    print(f"examples {fig.examples}, situations {fig.situations}, 14 languages")
    print(
        f"cue model: sub-intent accuracy {fig.rights_accuracy:.3f}, "
        f"on-behalf accuracy {fig.behalf_accuracy:.3f}"
    )
    for label, value in fig.recall.items():
        print(f"  recall {label}: {value:.3f}")
    print(
        f"counted baseline, each situation held out: sub-intent {fig.baseline_rights:.3f}, "
        f"on-behalf {fig.baseline_behalf:.3f}"
    )
    if args.errors:
        for err in fig.errors:
            print("  ", *err)


if __name__ == "__main__":
    main()
