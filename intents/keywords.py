"""Keyword baseline: a PhraseMatcher over a small multilingual keyword list, writing ``doc.cats``.

It exists to be measured beside the trained classifier (``dsr eval --baseline keywords``).
"""

from collections import Counter
from pathlib import Path
from typing import cast

import spacy
import yaml
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from intents.classify import IntentModel
from intents.labels import LABELS, Intent

#: The packaged keyword list: ``{label: {lang: [phrase, ...]}}``.
KEYWORDS_FILE = Path(__file__).parent / "keywords.yaml"


def load_keywords(path: Path = KEYWORDS_FILE) -> dict[str, list[str]]:
    """Read the keyword file into ``{label: [phrase, ...]}`` (languages merged)."""
    raw = cast(dict[str, dict[str, list[str]]], yaml.safe_load(path.read_text(encoding="utf-8")))
    return {
        label: [p for phrases in by_lang.values() for p in phrases]
        for label, by_lang in raw.items()
    }


class KeywordIntents:
    """Scores each label by how many of its phrases occur (case-insensitive); no match = other."""

    def __init__(self, nlp: Language, name: str, keywords: dict[str, list[str]]) -> None:
        self.name = name
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for label, phrases in keywords.items():
            self.matcher.add(label, [nlp.make_doc(phrase) for phrase in phrases])

    def __call__(self, doc: Doc) -> Doc:
        found = Counter(doc.vocab.strings[match_id] for match_id, _, _ in self.matcher(doc))
        cats = {label: found[label] / (found[label] + 1.0) for label in LABELS}
        cats[Intent.OTHER.value] = 0.0 if any(found.values()) else 1.0
        doc.cats = cats
        return doc


@Language.factory("keyword_intents", default_config={"keywords_path": None})
def make_keyword_intents(nlp: Language, name: str, keywords_path: str | None) -> KeywordIntents:
    """Factory; ``keywords_path`` None means the packaged ``keywords.yaml``."""
    path = Path(keywords_path) if keywords_path else KEYWORDS_FILE
    return KeywordIntents(nlp, name, load_keywords(path))


def baseline_model(language_source: IntentModel | None = None) -> IntentModel:
    """The keyword baseline as an :class:`IntentModel` (threshold 0.5, no margin).

    Args:
        language_source: a trained model whose language detector is reused; None leaves the
            language undetermined.
    """
    nlp = spacy.blank("xx")
    if language_source is not None and "language_detector" in language_source.nlp.pipe_names:
        nlp.add_pipe("language_detector", source=language_source.nlp)
    nlp.add_pipe("keyword_intents")
    return IntentModel(nlp, dict.fromkeys(LABELS, 0.5), 0.0, {"baseline": "keywords"})
