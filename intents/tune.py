"""Choose per-label thresholds, the review margin and the second-intent floor on a validation split.

Thresholds maximise each label's F1; the margin minimises a cost where a wrong automatic
decision costs four times a trip to a human; the floor for intents after the top one
maximises the messages whose set of intents is exactly right. Pure.
"""

from collections.abc import Mapping, Sequence

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
