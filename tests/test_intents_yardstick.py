"""The yardstick: leave-one-language-out measures transfer, not the language gate or detector;
a replay counts decisions as the tuner does."""

from dataclasses import replace

from intents.classify import MODEL_DIR
from intents.corpus import Example, corpus_files, load_corpus, split
from intents.train import FeatureCache, TrainSpec, cross_fitted_evidence, tune_on_evidence
from intents.yardstick import automatic_on, decisions_of, leave_one_out, replay


def test_a_held_out_language_is_read_by_a_fold_that_never_saw_it() -> None:
    corpus = load_corpus(corpus_files())
    examples = [
        *[ex for ex in corpus if ex.lang == "en"][:150],
        *[ex for ex in corpus if ex.lang == "de"][:150],
        *[ex for ex in corpus if ex.lang == "fr"][:60],
    ]
    spec = replace(TrainSpec(), epochs=2, augment=False, refit=False, tune_folds=0)
    result = leave_one_out(
        examples, "lang", spec, FeatureCache(), decisions_of(MODEL_DIR), only=["fr"]
    )
    fold = result["folds"]["fr"]
    assert fold["n"] == 60
    # The fold's gate never saw French: without letting it through, every letter would go to a
    # person unread (unknown_language) and the encoder would score nothing.
    assert fold["automation"]["reasons"].get("unknown_language", 0) <= 6
    assert result["mix_sweep"]["1.0"] > 0.4  # the encoder alone, trained on en + de


def test_a_held_out_language_is_mixed_with_the_share_the_desk_gives_it() -> None:
    # Polish is one of the encoder's languages, Czech is not. A fold without Polish, whose
    # detector may take Polish for Czech, must still mix Polish letters with the encoder's share
    # for its own languages: here all encoder (1.0), against none (0.0) for the rest.
    corpus = load_corpus(corpus_files())
    examples = [
        *[ex for ex in corpus if ex.lang == "en"][:150],
        *[ex for ex in corpus if ex.lang == "cs"][:150],
        *[ex for ex in corpus if ex.lang == "pl"][:60],
    ]
    spec = replace(TrainSpec(), epochs=2, augment=False, refit=False, tune_folds=0)
    # Without the article cue: the mix sweep it is compared with scores the mixed scores alone.
    decisions = replace(decisions_of(MODEL_DIR), weight=1.0, other_weight=0.0, cue_weight=0.0)
    result = leave_one_out(examples, "lang", spec, FeatureCache(), decisions, only=["pl"])
    encoder_alone, lexical_alone = result["mix_sweep"]["1.0"], result["mix_sweep"]["0.0"]
    assert abs(encoder_alone - lexical_alone) > 0.05  # the two shares give different answers
    assert abs(result["folds"]["pl"]["macro_f1"] - encoder_alone) < 0.005


def _small_corpus() -> list[Example]:
    corpus = load_corpus(corpus_files())
    return [
        *[ex for ex in corpus if ex.lang == "en"][:160],
        *[ex for ex in corpus if ex.lang == "de"][:160],
    ]


def test_a_replay_applies_decisions_exactly_as_the_tuner_counts_them() -> None:
    examples = _small_corpus()
    spec = replace(TrainSpec(), epochs=2, augment=False, tune_folds=2, max_wrong=0.05)
    features = FeatureCache()
    gold, evidence = cross_fitted_evidence(examples, spec, features)
    tuned = tune_on_evidence(gold, evidence, spec)
    automatic, wrong = automatic_on(tuned, gold, evidence)
    # The replay's count of what a decision rule does is the tuner's own, message for message.
    assert automatic == round(tuned.abstention.automatic * len(gold))
    assert wrong == round(tuned.abstention.wrong_automatic * len(gold))
    assert 0 < automatic < len(gold)


def test_a_replay_scores_every_train_and_validation_message_once_per_budget() -> None:
    examples = _small_corpus()
    spec = replace(TrainSpec(), epochs=2, augment=False, tune_folds=2)
    result = replay(examples, spec, FeatureCache(), budgets=(0.01, 0.05))
    train_part, valid_part, _ = split(examples, spec.seed)
    low, high = result["budgets"]["0.0100"], result["budgets"]["0.0500"]
    assert low["n"] == high["n"] == len(train_part) + len(valid_part)
    assert low["wrong"] <= low["automatic"] * low["n"]
    # A looser budget is tuned to decide at least as much on the same evidence.
    assert high["promised_automatic"] >= low["promised_automatic"]
    assert low["promised_wrong"] <= 0.01 + 1e-9
