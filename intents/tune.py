"""Choose the decision parameters on held-out messages (cross-fitted, or a validation part).

Thresholds maximise each label's F1; the margin minimises a cost where a wrong automatic
decision costs four times a trip to a human; the floor for intents after the top one
maximises the messages whose set of intents is exactly right; the mixing weight and then the
article cue's share maximise macro-F1; abstention (top-score floor, margin, lead floor, nearness
floor) gives the largest automatic share within a wrong-automatic budget. Pure.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from intents.articles import raise_cited
from intents.decide import decide
from intents.labels import LABELS

_GRID = tuple(round(0.05 * i, 2) for i in range(2, 19))  # 0.10 .. 0.90
_MARGINS = tuple(round(0.05 * i, 2) for i in range(0, 11))  # 0.00 .. 0.50
_FLOORS = tuple(round(0.05 * i, 2) for i in range(0, 19))  # 0.00 .. 0.90
WRONG_COST = 4.0


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def tune_thresholds(
    gold: Sequence[Sequence[str]], scores: Sequence[Mapping[str, float]]
) -> dict[str, float]:
    """Per label, the grid threshold with the best F1 (ties go to the one nearest 0.5).

    Args:
        gold: the gold labels of each validation example.
        scores: the model's scores for each, same order.

    Returns:
        ``{label: threshold}`` for all six labels; 0.5 where a label has no positive example.
    """
    chosen: dict[str, float] = {}
    for label in LABELS:
        truth = [label in g for g in gold]
        if not any(truth):
            chosen[label] = 0.5
            continue

        def quality(t: float, truth: list[bool] = truth, label: str = label) -> tuple[float, float]:
            said = [s.get(label, 0.0) >= t for s in scores]
            tp = sum(a and b for a, b in zip(said, truth, strict=True))
            fp = sum(a and not b for a, b in zip(said, truth, strict=True))
            fn = sum(b and not a for a, b in zip(said, truth, strict=True))
            return _f1(tp, fp, fn), -abs(t - 0.5)

        chosen[label] = max(_GRID, key=quality)
    return chosen


def tune_margin(
    gold: Sequence[Sequence[str]],
    scores: Sequence[Mapping[str, float]],
    thresholds: Mapping[str, float],
) -> float:
    """The grid margin with the lowest cost ``WRONG_COST * wrong automatic + reviewed``.

    Returns:
        The margin; ties go to the smaller one.
    """

    def cost(margin: float) -> float:
        total = 0.0
        for g, s in zip(gold, scores, strict=True):
            decision = decide(s, thresholds, margin)
            if decision.needs_review:
                total += 1.0
            elif decision.intent.value not in g:
                total += WRONG_COST
        return total

    return min(_MARGINS, key=lambda m: (cost(m), m))


def tune_secondary(
    gold: Sequence[Sequence[str]],
    scores: Sequence[Mapping[str, float]],
    thresholds: Mapping[str, float],
    margin: float,
) -> float:
    """The grid floor (0.00 .. 0.90) for second intents with the most exactly right intent sets.

    Returns:
        The floor; ties go to the smaller one.
    """

    def exact(floor: float) -> int:
        return sum(
            {i.value for i in decide(s, thresholds, margin, floor).intents} == set(g)
            for g, s in zip(gold, scores, strict=True)
        )

    return max(_FLOORS, key=lambda f: (exact(f), -f))


_MIX = tuple(round(0.1 * i, 1) for i in range(11))  # 0.0 .. 1.0
_MIN_SCORES = tuple(round(0.05 * i, 2) for i in range(0, 20))  # 0.00 .. 0.95
_OOD_FLOORS = tuple(round(0.05 * i, 2) for i in range(0, 17))  # 0.00 .. 0.80
_GAPS = tuple(round(0.05 * i, 2) for i in range(0, 11))  # 0.00 .. 0.50


@dataclass(frozen=True)
class Abstention:
    """When to hand a message to a human instead of deciding, and how that was measured."""

    min_score: float
    margin: float
    ood_floor: float
    #: On the validation part: decided automatically and wrong, over all messages.
    wrong_automatic: float = 0.0
    #: On the validation part: the share decided automatically.
    automatic: float = 0.0
    #: Least lead of the top score over the best label left out (see ``decide``'s ``min_gap``).
    min_gap: float = 0.0


def macro_f1(gold: Sequence[Sequence[str]], scores: Sequence[Mapping[str, float]]) -> float:
    """Macro-F1 of the top-scoring label (right when it is among the gold labels)."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, s in zip(gold, scores, strict=True):
        top = max(LABELS, key=lambda label: (s.get(label, 0.0), -LABELS.index(label)))
        if top in g:
            tp[top] += 1
        else:
            fp[top] += 1
            fn[g[0]] += 1
    present = {g[0] for g in gold}
    return sum(_f1(tp[x], fp[x], fn[x]) for x in present) / len(present) if present else 0.0


def mix_scores(
    lexical: Sequence[Mapping[str, float]],
    encoder: Sequence[Mapping[str, float]],
    shares: Sequence[float],
) -> list[dict[str, float]]:
    """``w * encoder + (1 - w) * lexical`` per message, ``w`` its encoder share."""
    return [
        {label: w * e.get(label, 0.0) + (1 - w) * x.get(label, 0.0) for label in LABELS}
        for x, e, w in zip(lexical, encoder, shares, strict=True)
    ]


def tune_mix(
    gold: Sequence[Sequence[str]],
    lexical: Sequence[Mapping[str, float]],
    encoder: Sequence[Mapping[str, float]],
) -> float:
    """The encoder's share in ``w * encoder + (1 - w) * lexical`` with the best macro-F1.

    Returns:
        A weight in 0.0 .. 1.0 (ties go to the one nearest 0.5).
    """

    def quality(weight: float) -> tuple[float, float]:
        mixed = mix_scores(lexical, encoder, [weight] * len(gold))
        return macro_f1(gold, mixed), -abs(weight - 0.5)

    return max(_MIX, key=quality)


#: Shares by which a cited intent's score moves towards 1 (``intents.articles.raise_cited``).
_CUES = tuple(round(0.1 * i, 1) for i in range(0, 7))  # 0.0 .. 0.6


def tune_cue(
    gold: Sequence[Sequence[str]],
    scores: Sequence[Mapping[str, float]],
    cited: Sequence[Sequence[str]],
) -> float:
    """The share by which the intents a message cites by article are raised, with the best
    macro-F1 (ties go to the smaller share; 0 when citations do not help).

    Args:
        gold: each message's gold labels.
        scores: its mixed scores.
        cited: the intents it cites (``intents.articles.cited_intents``).
    """

    def quality(weight: float) -> tuple[float, float]:
        raised = [raise_cited(s, c, weight) for s, c in zip(scores, cited, strict=True)]
        return macro_f1(gold, raised), -weight

    return max(_CUES, key=quality)


def tune_mix_pair(
    gold: Sequence[Sequence[str]],
    lexical: Sequence[Mapping[str, float]],
    encoder: Sequence[Mapping[str, float]],
    inside: Sequence[bool],
) -> tuple[float, float]:
    """Two encoder shares, for messages ``inside`` the encoder's own languages and for the rest,
    with the best macro-F1 over all messages (searched together: macro-F1 does not split).

    Returns:
        ``(inside weight, other weight)``, each in 0.0 .. 1.0 (ties go to the pair nearest 0.5).
    """

    def quality(pair: tuple[float, float]) -> tuple[float, float]:
        mixed = mix_scores(lexical, encoder, [pair[0] if own else pair[1] for own in inside])
        return macro_f1(gold, mixed), -abs(pair[0] - 0.5) - abs(pair[1] - 0.5)

    return max(((a, b) for a in _MIX for b in _MIX), key=quality)


def _rival(scores: Mapping[str, float], kept: Sequence[object]) -> float:
    """The best score among the labels a decision left out (as ``decide`` measures it)."""
    names = {str(getattr(i, "value", i)) for i in kept}
    return max(
        (float(scores.get(label, 0.0)) for label in LABELS if label not in names), default=0.0
    )


def tune_abstention(
    gold: Sequence[Sequence[str]],
    scores: Sequence[Mapping[str, float]],
    nearest: Sequence[float],
    forced: Sequence[bool],
    thresholds: Mapping[str, float],
    secondary: float,
    max_wrong: float,
    least_ood_floor: float = 0.0,
) -> Abstention:
    """The least abstention that keeps wrong automatic decisions at or under ``max_wrong``.

    Searches the top-score floor, the review margin, the least lead over the runner-up left
    out and the nearness floor for the largest automatic share whose wrong-automatic rate
    (over all messages) is at most ``max_wrong``; when none qualifies, the lowest
    wrong-automatic rate. Messages in ``forced`` go to a human
    whatever the parameters (unknown language, no text). The nearness floor is at least
    ``least_ood_floor``.

    Returns:
        The parameters and the rates they give on these messages.
    """
    n = len(gold)
    if n == 0:
        return Abstention(0.0, 0.0, 0.0)
    near = np.asarray(nearest, dtype=np.float64)
    top = np.array([max(s.values(), default=0.0) for s in scores])
    free = ~np.asarray(forced, dtype=bool)
    best: tuple[tuple[float, ...], Abstention] | None = None
    for margin in _MARGINS:
        decisions = [decide(s, thresholds, margin, secondary) for s in scores]
        ok = np.array([not d.needs_review for d in decisions]) & free
        right = np.array([d.intent.value in g for d, g in zip(decisions, gold, strict=True)])
        lead = top - np.array(
            [_rival(s, d.intents) for s, d in zip(scores, decisions, strict=True)]
        )
        floors = sorted({least_ood_floor, *(f for f in _OOD_FLOORS if f > least_ood_floor)})
        for floor in floors:
            near_ok = ok & (near >= floor)
            for min_score in _MIN_SCORES:
                sure = near_ok & (top >= min_score)
                for min_gap in _GAPS:
                    auto = sure & (lead + 1e-9 >= min_gap)
                    wrong = float((auto & ~right).sum()) / n
                    share = float(auto.sum()) / n
                    # Feasible first, then more automatic, then fewer wrong, then milder settings.
                    key = (
                        float(wrong <= max_wrong),
                        share if wrong <= max_wrong else -wrong,
                        -wrong,
                        -margin,
                        -floor,
                        -min_score,
                        -min_gap,
                    )
                    if best is None or key > best[0]:
                        best = (key, Abstention(min_score, margin, floor, wrong, share, min_gap))
    assert best is not None
    return best[1]
