"""Turn label scores into a decision: intents above threshold, top intent, and review flag.

Pure; the thresholds and margin come from the model's meta or from settings.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from intents.labels import LABELS, Intent

#: More intents than this in one message sends it to a human.
MAX_INTENTS = 2

#: Why a message goes to a human (``Decision.reason``, ``Classification.review_reason``).
LOW_SCORE = "low_score"
CLOSE_INTENTS = "close_intents"
CONTRADICTION = "contradiction"
TOO_MANY_INTENTS = "too_many_intents"


@dataclass(frozen=True, slots=True)
class Decision:
    """``intent`` is the top label; ``intents`` all labels at or above threshold, best first."""

    intent: Intent
    intents: tuple[Intent, ...]
    needs_review: bool
    #: Why review is needed (one of the reason constants above); empty when it is not.
    reason: str = ""


def decide(
    scores: Mapping[str, float],
    thresholds: Mapping[str, float] | float,
    margin: float,
    secondary: float = 0.0,
    min_score: float = 0.0,
    min_gap: float = 0.0,
) -> Decision:
    """Decide which intents a message carries.

    A message needs review when no label reaches its threshold, when the runner-up is within
    ``margin`` of the top score without reaching its own threshold (the model cannot tell
    which of the two it is), when ``other`` and a request both pass (contradiction), or when
    more than :data:`MAX_INTENTS` labels pass. Two request labels both above threshold are
    two intents, not doubt.

    Args:
        scores: a score in [0, 1] per label; missing labels count as 0, unknown keys are ignored.
        thresholds: one threshold per label, or one for all (labels missing from a mapping use 0.5).
        margin: the closeness of the top two scores that asks for a human.
        secondary: the least score of any intent after the top one (besides its threshold):
            per-label thresholds are tuned low, and a second intent acts on the customer's
            data. Labels under the floor still count for the review checks.
        min_score: the least top score for a decision without a human (tuned for the rate of
            wrong automatic decisions).
        min_gap: the least lead of the top score over the best label left out of the decision
            (a runner-up that passed its threshold but not the second-intent floor counts: the
            model half-believes it); closer than this is ``close_intents``.

    Returns:
        The decision. With no scores at all the intent is ``other`` and review is needed.
    """

    def limit(label: str) -> float:
        if isinstance(thresholds, Mapping):
            return float(thresholds.get(label, 0.5))
        return float(thresholds)

    def score(label: str) -> float:
        value = float(scores.get(label, 0.0))
        return value if value == value else 0.0  # NaN counts as no evidence

    ranked = sorted(LABELS, key=lambda label: (-score(label), LABELS.index(label)))
    top, second = ranked[0], ranked[1]
    if score(top) <= 0.0:
        return Decision(Intent.OTHER, (), True, LOW_SCORE)
    passing = tuple(Intent(label) for label in ranked if score(label) >= limit(label))
    # "Not a request" next to a request contradicts it: keep the request, but ask a human.
    conflict = len(passing) > 1 and Intent.OTHER in passing
    if conflict:
        passing = tuple(intent for intent in passing if intent is not Intent.OTHER)
    doubtful = score(second) < limit(second) and score(top) - score(second) < margin
    # Three requests in one message are rare; so many labels at once means the model is lost.
    too_many = len(passing) > MAX_INTENTS
    # Intents after the top one also need the floor; the review checks above still see them.
    intents = tuple(i for i in passing if i.value == top or score(i.value) >= secondary)
    kept = {i.value for i in intents}
    rival = max((score(label) for label in LABELS if label not in kept), default=0.0)
    reason = (
        LOW_SCORE
        if not intents or score(top) < min_score
        else CLOSE_INTENTS
        if doubtful or score(top) - rival + 1e-9 < min_gap
        else CONTRADICTION
        if conflict
        else TOO_MANY_INTENTS
        if too_many
        else ""
    )
    return Decision(Intent(top), intents, bool(reason), reason)
