"""The six intents a message to the privacy desk can carry (DESIGN.md "Intents")."""

from enum import StrEnum


class Intent(StrEnum):
    """A data-subject request type; ``OTHER`` means no request at all."""

    SEE = "see"
    CHANGE = "change"
    DELETE = "delete"
    CONCERN = "concern"
    UNSUBSCRIBE = "unsubscribe"
    OTHER = "other"


#: Every label, in the canonical order used for scores, tables and model outputs.
LABELS: tuple[str, ...] = tuple(intent.value for intent in Intent)
