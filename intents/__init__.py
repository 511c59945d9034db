"""Intents: language detection, intent classification and extraction for privacy-desk messages.

Load the shipped model once with :func:`load_model`, then :func:`classify` (pure, CPU-bound).

Names are imported on first use, so `intents.labels` alone does not load spaCy.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each public name lives; imported on first use (PEP 562).
_WHERE = {
    "MODEL_DIR": "intents.classify",
    "Classification": "intents.classify",
    "IntentModel": "intents.classify",
    "classify": "intents.classify",
    "classify_many": "intents.classify",
    "load_model": "intents.classify",
    "with_overrides": "intents.classify",
    "Decision": "intents.decide",
    "decide": "intents.decide",
    "CorpusError": "intents.errors",
    "IntentsError": "intents.errors",
    "ModelError": "intents.errors",
    "Extraction": "intents.extract",
    "extract": "intents.extract",
    "LABELS": "intents.labels",
    "Intent": "intents.labels",
}

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


#: Public functions named like the module that holds them (`classify` in `.classify`): importing
#: that module sets the package attribute to the module; the package keeps the function instead,
#: as the eager imports this file once had did.
_SHADOWED = frozenset(n for n, m in _WHERE.items() if m.rsplit(".", 1)[1] == n)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
