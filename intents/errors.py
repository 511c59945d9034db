"""Errors raised by the intents package.

IntentsError (Exception)
 ├── CorpusError (IntentsError, ValueError)   a corpus or eval line is malformed
 └── ModelError (IntentsError, OSError)       the model directory is missing or unusable
"""


class IntentsError(Exception):
    """Base class of every error raised by ``intents``."""


class CorpusError(IntentsError, ValueError):
    """A corpus, label export or evaluation file has a line that cannot be used."""


class ModelError(IntentsError, OSError):
    """The model directory is missing, incomplete or was built by an incompatible version."""
