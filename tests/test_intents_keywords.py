"""The keyword baseline component (PhraseMatcher over intents/keywords.yaml)."""

import pytest

from intents.classify import classify
from intents.keywords import baseline_model, load_keywords
from intents.labels import LABELS, Intent


def test_keyword_file_covers_every_request_label() -> None:
    keywords = load_keywords()
    assert set(keywords) == set(LABELS) - {"other"}
    assert all(len(phrases) >= 14 for phrases in keywords.values())  # one or more per language


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I want a COPY OF MY DATA please", Intent.SEE),
        ("Bitte um Löschung meines Kontos", Intent.DELETE),
        ("Je veux me désabonner", Intent.UNSUBSCRIBE),
        ("Where is my parcel?", Intent.OTHER),
    ],
    ids=["en-case-insensitive", "de", "fr", "no-keyword"],
)
def test_baseline(text: str, intent: Intent) -> None:
    assert classify(baseline_model(), text).intent is intent
