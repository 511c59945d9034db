"""decide() and the threshold/margin tuning: pure functions."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intents.decide import decide
from intents.labels import LABELS, Intent
from intents.tune import (
    tune_abstention,
    tune_margin,
    tune_mix,
    tune_secondary,
    tune_thresholds,
)


def scores(**given_scores: float) -> dict[str, float]:
    return {label: given_scores.get(label, 0.0) for label in LABELS}


@pytest.mark.parametrize(
    ("cats", "intent", "intents", "review"),
    [
        (scores(see=0.9, delete=0.1), Intent.SEE, (Intent.SEE,), False),
        (scores(see=0.9, delete=0.8), Intent.SEE, (Intent.SEE, Intent.DELETE), False),
        (scores(see=0.3, delete=0.2), Intent.SEE, (), True),
        (scores(see=0.55, delete=0.49), Intent.SEE, (Intent.SEE,), True),
        (scores(see=0.55, delete=0.2), Intent.SEE, (Intent.SEE,), False),
        (scores(other=0.9, concern=0.7), Intent.OTHER, (Intent.CONCERN,), True),
        ({}, Intent.OTHER, (), True),
        ({"see": math.nan, "delete": 0.9}, Intent.DELETE, (Intent.DELETE,), False),
        (
            scores(see=0.7, delete=0.6, change=0.55),
            Intent.SEE,
            (Intent.SEE, Intent.DELETE, Intent.CHANGE),
            True,
        ),
    ],
    ids=[
        "clear",
        "two-intents",
        "all-low",
        "close-runner-up",
        "margin-ok",
        "request-and-other-conflict",
        "no-scores",
        "nan-ignored",
        "three-intents",
    ],
)
def test_decide(
    cats: dict[str, float], intent: Intent, intents: tuple[Intent, ...], review: bool
) -> None:
    decision = decide(cats, 0.5, 0.1)
    assert (decision.intent, decision.intents, decision.needs_review) == (intent, intents, review)


def test_per_label_thresholds() -> None:
    decision = decide(scores(change=0.35), {"change": 0.3}, 0.0)
    assert decision.intents == (Intent.CHANGE,)
    assert not decision.needs_review
    assert decide(scores(change=0.35), {"change": 0.4}, 0.0).needs_review


@given(
    st.dictionaries(st.sampled_from(LABELS), st.floats(0.0, 1.0)),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_decide_total(cats: dict[str, float], threshold: float, margin: float) -> None:
    decision = decide(cats, threshold, margin)
    assert decision.intent in Intent
    assert all(cats.get(i.value, 0.0) >= threshold for i in decision.intents)
    assert decision.needs_review or decision.intents


def test_tune_thresholds_separates_labels() -> None:
    gold = [("see",), ("see",), ("delete",), ("delete",)]
    cats = [scores(see=0.42), scores(see=0.38), scores(see=0.2, delete=0.7), scores(delete=0.6)]
    tuned = tune_thresholds(gold, cats)
    assert 0.2 < tuned["see"] <= 0.38
    assert tuned["unsubscribe"] == 0.5  # no positive example: left at the default


def test_tune_margin_prefers_review_to_wrong_answers() -> None:
    gold = [("see",), ("delete",)]
    cats = [scores(see=0.6, delete=0.45), scores(see=0.62, delete=0.48)]
    margin = tune_margin(gold, cats, dict.fromkeys(LABELS, 0.5))
    assert margin >= 0.15  # wide enough to send the wrong one to a human
    assert decide(cats[1], 0.5, margin).needs_review


def test_second_intent_needs_the_floor() -> None:
    cats = scores(delete=0.95, see=0.3)
    assert decide(cats, 0.2, 0.0).intents == (Intent.DELETE, Intent.SEE)
    assert decide(cats, 0.2, 0.0, secondary=0.5).intents == (Intent.DELETE,)
    # The top intent only needs its own threshold.
    assert decide(scores(see=0.3), 0.2, 0.0, secondary=0.5).intents == (Intent.SEE,)


def test_tune_secondary_drops_spurious_second_intents() -> None:
    gold = [("delete",), ("delete",), ("see", "delete")]
    cats = [scores(delete=0.9, see=0.3), scores(delete=0.8, see=0.25), scores(see=0.9, delete=0.7)]
    floor = tune_secondary(gold, cats, dict.fromkeys(LABELS, 0.2), 0.0)
    assert 0.3 < floor <= 0.7


def test_review_reasons() -> None:
    assert decide(scores(see=0.9), 0.5, 0.1).reason == ""
    assert decide(scores(see=0.3), 0.5, 0.1).reason == "low_score"
    assert decide(scores(see=0.55, delete=0.49), 0.5, 0.1).reason == "close_intents"
    assert decide(scores(other=0.9, concern=0.7), 0.5, 0.1).reason == "contradiction"
    assert decide(scores(see=0.7, delete=0.6, change=0.55), 0.5, 0.0).reason == "too_many_intents"
    assert decide(scores(see=0.6), 0.5, 0.0, min_score=0.7).reason == "low_score"
    assert decide({}, 0.5, 0.0).reason == "low_score"


def test_tune_mix_prefers_the_better_half() -> None:
    gold = [("see",), ("delete",), ("see",), ("delete",)]
    good = [scores(see=0.9), scores(delete=0.9), scores(see=0.8), scores(delete=0.7)]
    bad = [scores(delete=0.9), scores(see=0.9), scores(delete=0.8), scores(see=0.7)]
    assert tune_mix(gold, good, bad) <= 0.4
    assert tune_mix(gold, bad, good) >= 0.6


def test_tune_abstention_keeps_wrong_automatic_under_budget() -> None:
    # 80 confident right answers, 10 confident wrong ones far from the corpus, 10 unsure ones.
    gold = [("see",)] * 100
    cats = [scores(see=0.95)] * 80 + [scores(delete=0.9)] * 10 + [scores(see=0.4)] * 10
    nearest = [0.9] * 80 + [0.2] * 10 + [0.9] * 10
    forced = [False] * 100
    thresholds = dict.fromkeys(LABELS, 0.3)
    chosen = tune_abstention(gold, cats, nearest, forced, thresholds, 0.0, max_wrong=0.02)
    assert chosen.wrong_automatic <= 0.02
    assert chosen.automatic >= 0.8
    assert chosen.ood_floor > 0.2 or chosen.min_score > 0.9


def test_tune_abstention_with_nothing() -> None:
    assert tune_abstention([], [], [], [], {}, 0.0, 0.02).automatic == 0.0


def test_min_gap_counts_a_runner_up_left_out_by_the_second_intent_floor() -> None:
    # concern passes its threshold but not the second-intent floor: it is left out, yet the
    # model half-believes it, so a lead of 0.1 is too close to act alone.
    cats = scores(see=0.6, concern=0.5)
    assert decide(cats, 0.3, 0.0, secondary=0.65).reason == ""
    assert decide(cats, 0.3, 0.0, secondary=0.65, min_gap=0.2).reason == "close_intents"
    assert decide(cats, 0.3, 0.0, secondary=0.65, min_gap=0.1).reason == ""
    # Two intents both kept are two requests, not doubt: the lead is over the third label.
    both = scores(see=0.8, delete=0.7, concern=0.1)
    assert decide(both, 0.3, 0.0, secondary=0.65, min_gap=0.5).intents == (
        Intent.SEE,
        Intent.DELETE,
    )
    assert decide(both, 0.3, 0.0, secondary=0.65, min_gap=0.5).reason == ""
    assert decide(both, 0.3, 0.0, secondary=0.65, min_gap=0.75).reason == "close_intents"


def test_tune_abstention_finds_the_lead_that_separates_wrong_answers() -> None:
    # Right answers lead by far; the wrong ones are as high but nearly tied with the truth.
    gold = [("see",)] * 90 + [("concern",)] * 10
    cats = [scores(see=0.9, concern=0.2)] * 90 + [scores(see=0.9, concern=0.8)] * 10
    chosen = tune_abstention(
        gold, cats, [0.9] * 100, [False] * 100, dict.fromkeys(LABELS, 0.85), 0.0, max_wrong=0.0
    )
    assert chosen.min_gap > 0.1
    assert chosen.automatic == 0.9
    assert chosen.wrong_automatic == 0.0
    assert decide(
        cats[-1], dict.fromkeys(LABELS, 0.85), chosen.margin, 0.0, chosen.min_score, chosen.min_gap
    ).needs_review
