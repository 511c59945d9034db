"""Intents: language detection, intent classification and extraction for privacy-desk messages.

Load the shipped model once with :func:`load_model`, then :func:`classify` (pure, CPU-bound).
"""

from intents.classify import (
    MODEL_DIR,
    Classification,
    IntentModel,
    classify,
    classify_many,
    load_model,
    with_overrides,
)
from intents.decide import Decision, decide
from intents.errors import CorpusError, IntentsError, ModelError
from intents.extract import Extraction, extract
from intents.labels import LABELS, Intent

__all__ = [
    "LABELS",
    "MODEL_DIR",
    "Classification",
    "CorpusError",
    "Decision",
    "Extraction",
    "Intent",
    "IntentModel",
    "IntentsError",
    "ModelError",
    "classify",
    "classify_many",
    "decide",
    "extract",
    "load_model",
    "with_overrides",
]
