"""The public API of the intents package is what __all__ says."""

import intents


def test_exports() -> None:
    assert sorted(intents.__all__) == sorted(
        [
            "LABELS", "MODEL_DIR", "Classification", "CorpusError", "Decision", "Extraction",
            "Intent", "IntentModel", "IntentsError", "ModelError", "classify", "classify_many",
            "decide", "extract", "load_model", "with_overrides",
        ]
    )  # fmt: skip
    for name in intents.__all__:
        assert hasattr(intents, name)
