"""Scores of a classifier on labelled examples: per label, language and kind, macro-F1,
confusion, and what automation would do (automatic share, wrong automatic decisions).

Pure: takes gold examples and predictions, returns a report (a dict) and its text rendering.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from intents.classify import Classification
from intents.corpus import Example
from intents.labels import LABELS


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def _scores(pairs: Sequence[tuple[Example, Classification]]) -> dict[str, Any]:
    """Top-intent scores: a prediction is right when the top intent is one of the gold labels."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for gold, pred in pairs:
        if pred.intent.value in gold.labels:
            tp[pred.intent.value] += 1
        else:
            fp[pred.intent.value] += 1
            fn[gold.labels[0]] += 1
    present = [label for label in LABELS if any(g.labels[0] == label for g, _ in pairs)]
    per_label = {label: _prf(tp[label], fp[label], fn[label]) for label in present}
    right = sum(tp.values())
    return {
        "n": len(pairs),
        "accuracy": right / len(pairs) if pairs else 0.0,
        "macro_f1": sum(m["f1"] for m in per_label.values()) / len(present) if present else 0.0,
        "needs_review": sum(p.needs_review for _, p in pairs) / len(pairs) if pairs else 0.0,
        "per_label": per_label,
    }


def automation(pairs: Sequence[tuple[Example, Classification]]) -> dict[str, Any]:
    """What running unattended would do: ``automatic`` share, ``wrong_automatic`` rate (decided
    without a human and the top intent not among the gold labels, over all messages) and the
    count of each review reason."""
    n = len(pairs)
    auto = [(g, p) for g, p in pairs if not p.needs_review]
    wrong = sum(p.intent.value not in g.labels for g, p in auto)
    reasons = Counter(p.review_reason or "review" for _, p in pairs if p.needs_review)
    return {
        "automatic": len(auto) / n if n else 0.0,
        "wrong_automatic": wrong / n if n else 0.0,
        "wrong_among_automatic": wrong / len(auto) if auto else 0.0,
        "reasons": dict(sorted(reasons.items())),
    }


def evaluate(gold: Sequence[Example], predicted: Sequence[Classification]) -> dict[str, Any]:
    """Compare predictions with gold labels.

    Args:
        gold: the labelled examples (``lang`` empty means: use the predicted language).
        predicted: one classification per example, same order.

    Returns:
        ``{"overall": scores, "automation": ..., "per_language": {lang: scores},
        "per_kind": {kind: scores}, "language_accuracy", "confusion": {gold: {predicted: n}}}``;
        macro-F1 is over the labels present in gold.
    """
    pairs = list(zip(gold, predicted, strict=True))
    by_lang: dict[str, list[tuple[Example, Classification]]] = defaultdict(list)
    for g, p in pairs:
        by_lang[g.lang or p.language].append((g, p))
    by_kind: dict[str, list[tuple[Example, Classification]]] = defaultdict(list)
    for g, p in pairs:
        by_kind[g.kind or "-"].append((g, p))
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for g, p in pairs:
        confusion[g.labels[0]][
            p.intent.value if p.intent.value not in g.labels else g.labels[0]
        ] += 1
    with_lang = [(g, p) for g, p in pairs if g.lang]
    return {
        "overall": _scores(pairs),
        "automation": automation(pairs),
        "per_language": {lang: _scores(by_lang[lang]) for lang in sorted(by_lang)},
        "per_kind": {kind: _scores(by_kind[kind]) for kind in sorted(by_kind)},
        "language_accuracy": (
            sum(g.lang == p.language for g, p in with_lang) / len(with_lang) if with_lang else None
        ),
        "confusion": {label: dict(confusion[label]) for label in LABELS if label in confusion},
    }


def format_report(report: dict[str, Any]) -> str:
    """Render :func:`evaluate`'s report as plain-text tables."""
    overall = report["overall"]
    lines = [
        f"examples {overall['n']}  accuracy {overall['accuracy']:.3f}  "
        f"macro-F1 {overall['macro_f1']:.3f}  needs_review {overall['needs_review']:.3f}",
        f"language detection accuracy {report['language_accuracy']:.3f}"
        if report["language_accuracy"] is not None
        else "language detection accuracy n/a",
        "",
        f"{'label':<12}{'prec':>7}{'rec':>7}{'F1':>7}{'n':>6}",
    ]
    for label, m in overall["per_label"].items():
        lines.append(
            f"{label:<12}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}{m['support']:>6}"
        )
    for title, key in (("lang", "per_language"), ("kind", "per_kind")):
        if key == "per_kind" and set(report.get(key, {})) <= {"-"}:
            continue
        lines += ["", f"{title:<14}{'n':>5}{'acc':>7}{'macroF1':>9}{'review':>8}  per-label F1"]
        for name, s in report.get(key, {}).items():
            f1s = " ".join(f"{k}={v['f1']:.2f}" for k, v in s["per_label"].items())
            lines.append(
                f"{name:<14}{s['n']:>5}{s['accuracy']:>7.3f}{s['macro_f1']:>9.3f}"
                f"{s['needs_review']:>8.3f}  {f1s}"
            )
    if "automation" in report:
        auto = report["automation"]
        reasons = ", ".join(f"{k} {v}" for k, v in auto["reasons"].items()) or "none"
        lines += [
            "",
            f"automatic {auto['automatic']:.3f}  wrong automatic {auto['wrong_automatic']:.4f} "
            f"(of all messages; {auto['wrong_among_automatic']:.4f} of the automatic ones)",
            f"review reasons: {reasons}",
        ]
    lines += ["", "confusion (rows gold, columns predicted top intent)"]
    lines.append(f"{'':<12}" + "".join(f"{label[:7]:>8}" for label in LABELS))
    for gold, row in report["confusion"].items():
        lines.append(f"{gold:<12}" + "".join(f"{row.get(label, 0):>8}" for label in LABELS))
    return "\n".join(lines)
