"""The honest yardstick: scores on situations, genres and languages the model has never seen.

``python -m intents.yardstick`` trains as ``dsr train`` does on the situation-grouped split (a
situation and all its translations on one side), tunes cross-fitted on the train and validation
parts, and scores the test part once: macro-F1, per language and per kind (genre), the
automatic share and the wrong-automatic rate. ``--folds kind`` and ``--folds lang`` add
leave-one-genre-out and leave-one-language-out: for each kind (language), a model trained
without any example of it labels all of its examples, with the decision parameters tuned in
the main run (the lexical part of a fold trains with ``--fold-epochs`` and no augmentation
unless ``--fold-augment``; a held-out language is let through the language gate, so the fold
measures transfer rather than the gate). ``--replay`` replays the whole procedure inside the
train and validation parts, to see whether the tuned budget holds for a model trained on more
data than the models it was tuned on (see :func:`replay`). Nothing here reads ``../shared/eval``.
"""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from intents.articles import raise_cited
from intents.classify import (
    Classification,
    IntentModel,
    classify_many,
    prepare_text,
    tuned_meta,
)
from intents.corpus import CORPUS_DIR, Example, corpus_files, load_corpus, split
from intents.decide import decide
from intents.encoder_components import ENCODER_LANGUAGES, LanguageGate, encoder_share
from intents.evaluate import evaluate, format_report
from intents.train import (
    Decisions,
    Evidence,
    FeatureCache,
    TrainSpec,
    cross_fitted_evidence,
    decide_parameters,
    fit_pipeline,
    held_out_evidence,
    make_tuned_model,
    tune_on_evidence,
    tuning_folds,
)
from intents.tune import Abstention, macro_f1, mix_scores

#: Examples grouped by a field for leave-one-out folds.
FOLD_KEYS: dict[str, Callable[[Example], str]] = {
    "kind": lambda ex: ex.kind or "-",
    "lang": lambda ex: ex.lang or "-",
}


def honest_split(
    examples: Sequence[Example], spec: TrainSpec, features: FeatureCache, score: bool = True
) -> tuple[dict[str, Any], Decisions]:
    """Tune (cross-fitted over train + validation, or on validation), fit on train +
    validation, score the test part once.

    Args:
        examples: the corpus.
        spec: what to train.
        features: shared sentence-feature cache.
        score: False stops after tuning (the report is then empty).

    Returns:
        The test-part report (see :func:`intents.evaluate.evaluate`) and the tuned decisions.
    """
    train_part, valid_part, test_part = split(examples, spec.seed)
    decisions = decide_parameters(train_part, valid_part, spec, features)
    if not score:
        return {}, decisions
    nlp = fit_pipeline([*train_part, *valid_part] if spec.refit else train_part, spec, features)
    model = make_tuned_model(nlp, decisions)
    report = evaluate(test_part, classify_many(model, [ex.text for ex in test_part]))
    report["sizes"] = {"train": len(train_part), "valid": len(valid_part), "test": len(test_part)}
    report["decisions"] = {
        "mix_weight": decisions.weight,
        "mix_other_weight": decisions.other_weight,
        "cue_weight": decisions.cue_weight,
        "min_score": decisions.abstention.min_score,
        "margin": decisions.abstention.margin,
        "ood_floor": decisions.abstention.ood_floor,
        "min_gap": decisions.abstention.min_gap,
        "valid_wrong_automatic": decisions.abstention.wrong_automatic,
        "valid_automatic": decisions.abstention.automatic,
    }
    return report, decisions


def leave_one_out(
    examples: Sequence[Example],
    key: str,
    spec: TrainSpec,
    features: FeatureCache,
    decisions: Decisions,
    progress: Callable[[str], None] = lambda _: None,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """For each value of ``key`` (kind or lang): train without it, label all its examples.

    Returns:
        ``{"pooled": report over all held-out predictions, "folds": {value: overall scores}}``.
    """
    group = FOLD_KEYS[key]
    values = sorted({group(ex) for ex in examples} & set(only or [group(ex) for ex in examples]))
    gold: list[Example] = []
    predicted: list[Classification] = []
    folds: dict[str, Any] = {}
    parts: list[tuple[dict[str, float], dict[str, float]]] = []
    for value in values:
        held = [ex for ex in examples if group(ex) == value]
        rest = [ex for ex in examples if group(ex) != value]
        nlp = fit_pipeline(rest, spec, features)
        if key == "lang" and "language_gate" in nlp.pipe_names:
            # Leave-one-language-out measures transfer: how well the other languages' examples
            # teach this one. The fold's gate does not know the language (the desk would send
            # it to a person unread, with no scores), so it is let through here.
            gate: LanguageGate = nlp.get_pipe("language_gate")  # type: ignore[assignment]
            gate.supported = tuple(sorted({*gate.supported, value}))
        model: IntentModel = make_tuned_model(nlp, _fold_decisions(decisions, key, value))
        results = classify_many(model, [ex.text for ex in held])
        parts += component_scores(model, held)
        fold = evaluate(held, results)
        folds[value] = {**fold["overall"], "automation": fold["automation"]}
        del folds[value]["per_label"]
        gold += held
        predicted += results
        progress(f"{key}={value}: n={len(held)} macro-F1 {fold['overall']['macro_f1']:.3f}")
    pooled = evaluate(gold, predicted)
    mean = sum(f["macro_f1"] for f in folds.values()) / len(folds) if folds else 0.0
    labels = [ex.labels for ex in gold]
    lexical, encoder = [x for x, _ in parts], [e for _, e in parts]
    sweep = {
        f"{w:.1f}": macro_f1(labels, mix_scores(lexical, encoder, [w] * len(parts)))
        for w in WEIGHTS
    }
    return {"pooled": pooled, "folds": folds, "mean_fold_macro_f1": mean, "mix_sweep": sweep}


def _fold_decisions(decisions: Decisions, key: str, value: str) -> Decisions:
    """The decisions a fold classifies with.

    A held-out language gets the encoder share the desk gives that language. The fold's own
    language detector, trained without it, names another language, whose share may be the
    other one (with two shares, Polish read as Czech would be mixed as Czech is).
    """
    if key != "lang":
        return decisions
    share = encoder_share(value in ENCODER_LANGUAGES, decisions.weight, decisions.other_weight)
    return replace(decisions, weight=share, other_weight=None)


#: Encoder weights for the pooled fold sweep.
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


def component_scores(
    model: IntentModel, examples: Sequence[Example]
) -> list[tuple[dict[str, float], dict[str, float]]]:
    """The lexical and the encoder classifier's scores for each example (before mixing)."""
    docs = model.nlp.pipe([prepare_text(ex.text) for ex in examples])
    out = []
    for doc in docs:
        lexical = dict(doc._.cats_lexical or doc.cats)
        out.append((lexical, dict(doc._.cats_encoder or lexical)))
    return out


def decisions_of(model_dir: Path) -> Decisions:
    """The decision parameters stored in a trained model's ``meta.json``."""
    meta = tuned_meta(model_dir)
    abstention = Abstention(
        float(meta.get("min_score", 0.0)),
        float(meta["margin"]),
        float(meta.get("ood_floor", 0.0)),
        min_gap=float(meta.get("min_gap", 0.0)),
    )
    return Decisions(
        dict(meta["thresholds"]),
        float(meta["margin"]),
        float(meta.get("secondary", 0.0)),
        float(meta.get("mix_weight", 0.0)),
        abstention,
        None if meta.get("mix_other_weight") is None else float(meta["mix_other_weight"]),
        float(meta.get("cue_weight", 0.0)),
    )


def _format_folds(key: str, result: dict[str, Any]) -> str:
    pooled = result["pooled"]
    lines = [
        f"leave-one-{'genre' if key == 'kind' else 'language'}-out: pooled macro-F1 "
        f"{pooled['overall']['macro_f1']:.3f}, accuracy {pooled['overall']['accuracy']:.3f}, "
        f"mean of folds {result['mean_fold_macro_f1']:.3f}",
        f"{key:<14}{'n':>5}{'acc':>7}{'macroF1':>9}{'auto':>7}{'wrongA':>8}",
    ]
    sweep = "  ".join(f"{w} {f:.3f}" for w, f in result.get("mix_sweep", {}).items())
    lines.insert(1, f"pooled macro-F1 by encoder weight (lexical 1 - w; no article cue): {sweep}")
    for value, fold in result["folds"].items():
        auto = fold["automation"]
        lines.append(
            f"{value:<14}{fold['n']:>5}{fold['accuracy']:>7.3f}{fold['macro_f1']:>9.3f}"
            f"{auto['automatic']:>7.3f}{auto['wrong_automatic']:>8.4f}"
        )
    return "\n".join(lines)


#: Wrong-automatic budgets a replay tries.
BUDGETS = (0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02)


def automatic_on(
    decisions: Decisions, gold: Sequence[Sequence[str]], evidence: Evidence
) -> tuple[int, int]:
    """How many of these messages ``decisions`` would decide without a person, and how many of
    those wrongly (main intent not among the gold labels), from their evidence."""
    lexical, encoder, nearest, forced, inside, cited = evidence
    abstention = decisions.abstention
    automatic = wrong = 0
    for i, labels in enumerate(gold):
        share = encoder_share(inside[i], decisions.weight, decisions.other_weight)
        mixed = mix_scores([lexical[i]], [encoder[i]], [share])[0]
        scores = raise_cited(mixed, cited[i], decisions.cue_weight)
        decision = decide(
            scores,
            decisions.thresholds,
            abstention.margin,
            decisions.secondary,
            abstention.min_score,
            abstention.min_gap,
        )
        if decision.needs_review or forced[i] or nearest[i] < abstention.ood_floor:
            continue
        automatic += 1
        wrong += decision.intent.value not in labels
    return automatic, wrong


def replay(
    examples: Sequence[Example],
    spec: TrainSpec,
    features: FeatureCache,
    budgets: Sequence[float] = BUDGETS,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """``dsr train``'s tuning, replayed inside its own data, for each wrong-automatic budget.

    ``dsr train`` tunes on evidence from models that saw four fifths of train + validation, then
    ships a model that saw all of it, which is surer of itself and decides more than the evidence
    promised. Whether it also errs more, the replay measures without the test part. For
    each tuning fold, the parameters are tuned on cross-fitted evidence of the other folds (cut
    again, with another hash) and applied to the fold as labelled by one model trained on all
    the other folds: tuned on models that saw four fifths of what the applied model saw, as
    shipped. ``(spec.tune_folds + 1) * spec.tune_folds`` models are trained.

    Returns:
        ``{"budgets": {budget: {"promised_automatic", "promised_wrong", "automatic",
        "wrong_automatic", "wrong", "n"}}}``, the promised rates the mean over folds.
    """
    train_part, valid_part, _ = split(examples, spec.seed)
    folds = tuning_folds([*train_part, *valid_part], spec.tune_folds, spec.seed)
    totals = {b: [0.0, 0.0, 0, 0] for b in budgets}
    n = 0
    for index, held in enumerate(folds):
        rest = [ex for other, fold in enumerate(folds) if other != index for ex in fold]
        gold, evidence = cross_fitted_evidence(rest, spec, features, cut_seed=spec.seed + 17)
        applied = held_out_evidence(fit_pipeline(rest, spec, features), held)
        labels = [ex.labels for ex in held]
        n += len(held)
        for budget in budgets:
            tuned = tune_on_evidence(gold, evidence, replace(spec, max_wrong=budget))
            automatic, wrong = automatic_on(tuned, labels, applied)
            row = totals[budget]
            row[0] += tuned.abstention.automatic / len(folds)
            row[1] += tuned.abstention.wrong_automatic / len(folds)
            row[2] += automatic
            row[3] += wrong
        progress(f"replay fold {index + 1} of {len(folds)}: {len(held)} messages")
    return {
        "budgets": {
            f"{b:.4f}": {
                "promised_automatic": row[0],
                "promised_wrong": row[1],
                "automatic": row[2] / n if n else 0.0,
                "wrong_automatic": row[3] / n if n else 0.0,
                "wrong": row[3],
                "n": n,
            }
            for b, row in totals.items()
        }
    }


def _format_replay(result: dict[str, Any]) -> str:
    lines = [
        "replay of the tuning inside train + validation (tuned on 4/5-data models, applied to a "
        "model that saw all of them):",
        f"{'budget':>8}{'promised auto':>15}{'wrong':>8}{'replayed auto':>15}{'wrong':>8}",
    ]
    for budget, row in result["budgets"].items():
        lines.append(
            f"{float(budget):>8.4f}{row['promised_automatic']:>15.3f}{row['promised_wrong']:>8.4f}"
            f"{row['automatic']:>15.3f}{row['wrong_automatic']:>8.4f}"
            f"  ({row['wrong']} of {row['n']})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the honest-split report and, with ``--folds``, leave-one-out tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", nargs="*", choices=sorted(FOLD_KEYS), default=[])
    parser.add_argument("--lexical-only", action="store_true", help="no sentence encoder")
    parser.add_argument("--json", type=Path, help="also write the full report here")
    parser.add_argument(
        "--fold-epochs", type=int, default=6, help="lexical epochs in leave-one-out folds"
    )
    parser.add_argument(
        "--fold-augment", action="store_true", help="augment in folds (slower; as shipped)"
    )
    parser.add_argument("--no-split", action="store_true", help="folds only (tune on the split)")
    parser.add_argument(
        "--decisions-from",
        type=Path,
        help="no honest split: folds and --replay only, with a model's decision parameters",
    )
    parser.add_argument("--only", nargs="*", default=None, help="fold only these kinds/languages")
    parser.add_argument(
        "--replay",
        action="store_true",
        help="also replay the tuning inside train + validation per budget (30 models)",
    )
    args = parser.parse_args(argv)
    spec = TrainSpec(corpus_dir=args.corpus, seed=args.seed, encoder=not args.lexical_only)
    examples = load_corpus(corpus_files(args.corpus))
    features = FeatureCache()
    report: dict[str, Any] = {}
    if args.decisions_from:
        decisions = decisions_of(args.decisions_from)
    else:
        report, decisions = honest_split(examples, spec, features, score=not args.no_split)
    full: dict[str, Any] = {"split": report}
    if report:
        print("honest split (by situation), test part:")
        print(f"sizes {report['sizes']}  decisions {report['decisions']}")
        print(format_report(report), flush=True)
    # Folds train the lexical part lighter by default (43 folds must fit in an hour of one core).
    fold_spec = replace(spec, refit=False, epochs=args.fold_epochs, augment=args.fold_augment)
    for key in args.folds:
        result = leave_one_out(
            examples, key, fold_spec, features, decisions, lambda m: print(m, flush=True), args.only
        )
        full[key] = result
        print()
        print(_format_folds(key, result), flush=True)
    if args.replay:
        full["replay"] = replay(examples, spec, features, progress=lambda m: print(m, flush=True))
        print()
        print(_format_replay(full["replay"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(full, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
