"""Evaluation metrics on hand-made predictions."""

from intents.classify import Classification
from intents.corpus import Example
from intents.evaluate import evaluate, format_report
from intents.labels import LABELS, Intent


def pred(intent: Intent, language: str = "en") -> Classification:
    return Classification(intent, (intent,), dict.fromkeys(LABELS, 0.0), language, False)


def test_scores_confusion_and_languages() -> None:
    gold = [
        Example("a", ("see",), "en"),
        Example("b", ("see",), "en"),
        Example("c", ("delete",), "de"),
        Example("d", ("delete", "see"), "de"),
    ]
    predicted = [pred(Intent.SEE), pred(Intent.DELETE), pred(Intent.DELETE, "de"), pred(Intent.SEE)]
    report = evaluate(gold, predicted)
    overall = report["overall"]
    assert overall["accuracy"] == 0.75  # the combo counts as right when see is on top
    see, delete = overall["per_label"]["see"], overall["per_label"]["delete"]
    assert (see["precision"], see["recall"]) == (1.0, 2 / 3)
    assert (delete["precision"], delete["recall"]) == (0.5, 1.0)
    assert abs(overall["macro_f1"] - (0.8 + 2 / 3) / 2) < 1e-9
    assert report["per_language"]["en"]["accuracy"] == 0.5
    assert report["per_language"]["de"]["accuracy"] == 1.0
    assert report["language_accuracy"] == 0.75  # the last prediction said "en" for a "de" text
    assert report["confusion"]["see"] == {"see": 1, "delete": 1}
    text = format_report(report)
    assert "macro-F1 0.733" in text and "confusion" in text
