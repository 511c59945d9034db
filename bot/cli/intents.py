"""`dsr classify`, `dsr train` and `dsr eval`: thin typer commands over ``intents``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.progress import counting, progress_bar
from intents.classify import (
    MODEL_DIR,
    Classification,
    IntentModel,
    classify_many,
    load_model,
)
from intents.corpus import CORPUS_DIR, Example, load_corpus, load_jsonl, split
from intents.eml import read_eml
from intents.errors import IntentsError
from intents.evaluate import evaluate, format_report
from intents.keywords import baseline_model
from intents.train import ARCHITECTURES, TrainSpec, train

TRAIN_EPOCHS = 12  # intents.train.train's default

_BATCH = 256


class Baseline(StrEnum):
    """Baselines `dsr eval` can score instead of the trained model."""

    keywords = "keywords"


class Split(StrEnum):
    """Parts of the project's own corpus."""

    valid = "valid"
    test = "test"


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


def _model(
    ctx: typer.Context, path: Path, threshold: float | None, margin: float | None
) -> IntentModel:
    # Command-line options win over settings; None everywhere keeps the model's tuned values.
    settings = ctx.obj
    if threshold is None:
        threshold = getattr(settings, "classify_threshold", None)
    if margin is None:
        margin = getattr(settings, "classify_margin", None)
    return load_model(
        path, threshold=threshold, margin=margin, cache_dir=getattr(settings, "cache_dir", None)
    )


def _as_json(item_id: Any, result: Classification) -> str:
    return json.dumps(
        {
            "id": item_id,
            "intent": result.intent.value,
            "intents": [intent.value for intent in result.intents],
            "scores": {label: round(score, 4) for label, score in result.scores.items()},
            "language": result.language,
            "needs_review": result.needs_review,
            # Beyond DESIGN.md's contract: why a person must read it, and the articles cited.
            "review_reason": result.review_reason,
            "cited": list(result.cited),
        },
        ensure_ascii=False,
    )


def _stdin_items() -> Iterator[tuple[Any, str]]:
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            typer.echo(
                f"error: stdin line {number} is not a JSON object with a string 'text'; "
                'write {"id": ..., "text": ...} per line',
                err=True,
            )
            continue
        yield obj.get("id"), obj["text"]


def classify_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None, typer.Argument(help=".eml files; none = JSON lines on stdin")
    ] = None,
    model: Annotated[Path, typer.Option(help="model directory")] = MODEL_DIR,
    threshold: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="one threshold for all labels")
    ] = None,
    margin: Annotated[float | None, typer.Option(min=0.0, max=1.0, help="review margin")] = None,
) -> None:
    """Classify messages; print one JSON line per message (the `dsr classify` contract)."""
    try:
        loaded = _model(ctx, model, threshold, margin)
        items: Iterator[tuple[Any, str]] = (
            ((str(path), read_eml(path)) for path in files) if files else _stdin_items()
        )
        while batch := list(islice(items, _BATCH)):
            results = classify_many(loaded, [text for _, text in batch])
            for (item_id, _), result in zip(batch, results, strict=True):
                sys.stdout.write(_as_json(item_id, result) + "\n")
            sys.stdout.flush()
    except (IntentsError, OSError) as exc:
        raise _fail(exc) from exc


def train_command(
    seed: Annotated[int, typer.Option(help="seed for split, augmentation and weights")] = 0,
    include_labels: Annotated[
        list[Path] | None, typer.Option(help="extra JSONL in corpus format (staff labels)")
    ] = None,
    out: Annotated[Path, typer.Option(help="model directory to write")] = MODEL_DIR,
    corpus: Annotated[Path, typer.Option(help="corpus directory")] = CORPUS_DIR,
    architecture: Annotated[str, typer.Option(help=f"one of {sorted(ARCHITECTURES)}")] = "hashed",
    max_wrong: Annotated[
        float,
        typer.Option(
            min=0.001,
            max=0.2,
            help="budget of wrong automatic decisions (share of all messages) the review "
            "thresholds are tuned for; README, Honest figures, shows what each budget gives",
        ),
    ] = TrainSpec().max_wrong,
) -> None:
    """Train the model from the corpus (deterministic for the same corpus and seed)."""
    try:
        # Each epoch logs one line: a model per tuning fold (cross-fitted), then the refit.
        with (
            progress_bar("training", (TrainSpec().tune_folds + 1) * TRAIN_EPOCHS) as done,
            counting("intents.train", "epoch", done),
        ):
            result = train(
                out,
                corpus_dir=corpus,
                seed=seed,
                include_labels=include_labels or (),
                architecture=architecture,
                max_wrong=max_wrong,
            )
    except (IntentsError, OSError, ValueError) as exc:
        raise _fail(exc) from exc
    typer.echo(f"model written to {result.path}")
    typer.echo(
        f"tuned for at most {max_wrong:.2%} wrong automatic decisions: on the cross-fitted "
        f"evidence {result.tuned_automatic:.1%} automatic at {result.tuned_wrong_automatic:.2%} "
        "wrong (a model trained on all of it decides more; `python -m intents.yardstick "
        "--decisions-from DIR --replay` measures by how much)"
    )
    typer.echo(f"corpus sha256 {result.corpus_sha256}  sizes {result.sizes}")
    typer.echo(
        f"thresholds {result.thresholds}  margin {result.margin}  "
        f"second-intent floor {result.secondary}  article cue {result.cue_weight}"
    )
    typer.echo("held-out test split of the corpus:")
    typer.echo(format_report(result.test_report))


def eval_command(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="JSONL with text, label(s), lang")] = None,
    baseline: Annotated[Baseline | None, typer.Option(help="score a baseline instead")] = None,
    corpus_split: Annotated[
        Split | None, typer.Option("--split", help="score a part of the corpus instead of FILE")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the split (as trained)")] = 0,
    model: Annotated[Path, typer.Option(help="model directory")] = MODEL_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Precision, recall, F1 per label and language, macro-F1, accuracy, confusion matrix."""
    try:
        if (file is None) == (corpus_split is None):
            raise IntentsError("give either FILE or --split valid|test")
        gold: list[Example]
        if file is not None:
            gold = load_jsonl(file)
        else:
            parts = split(load_corpus(sorted(CORPUS_DIR.glob("*.jsonl"))), seed)
            gold = parts[1] if corpus_split is Split.valid else parts[2]
        loaded = _model(ctx, model, None, None)
        if baseline is Baseline.keywords:
            loaded = baseline_model(loaded)
        results: list[Classification] = []
        with progress_bar("classifying", len(gold)) as done:
            for start in range(0, len(gold), 256):
                chunk = [ex.text for ex in gold[start : start + 256]]
                results.extend(classify_many(loaded, chunk))
                done(len(results))
        report = evaluate(gold, results)
    except (IntentsError, OSError) as exc:
        raise _fail(exc) from exc
    typer.echo(json.dumps(report, indent=2) if as_json else format_report(report))


def register(app: typer.Typer) -> None:
    """Add `classify`, `train` and `eval` to the `dsr` app."""
    app.command("classify")(classify_command)
    app.command("train")(train_command)
    app.command("eval")(eval_command)
