"""A fast word tokenizer for the intents pipeline: runs of letters/digits, and single symbols.

spaCy's multilingual rule tokenizer spends most of the classifier's time on prefix, suffix and
infix regexes per whitespace chunk; a bag-of-words model needs none of that precision. One C-level
regex pass finds the words, and spaCy builds the ``Doc`` from them.
"""

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spacy.attrs import IS_ALPHA, IS_DIGIT, IS_PUNCT, IS_SPACE, LOWER, NORM
from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import registry
from spacy.vocab import Vocab

from intents.errors import ModelError

#: A word (letters, digits, combining accents) or one other non-space character, then an
#: optional whitespace character that becomes the token's trailing space.
PATTERN = r"([\w\u0300-\u036f]+|[^\w\s])(\s?)"
_TOKEN = re.compile(PATTERN)
#: The lexical attributes the intents pipeline reads. spaCy computes every registered attribute
#: (shape, like_url, like_num, ...) for each word it has not seen before, which was half the
#: cost of classifying unseen text; the others stay unset.
LEXEME_ATTRS = (LOWER, NORM, IS_ALPHA, IS_DIGIT, IS_PUNCT, IS_SPACE)
#: ``doc.user_data`` key of the text as given (``doc.text`` has no line breaks).
RAW_TEXT = "dsr_raw_text"


class WordTokenizer:
    """Callable ``text -> Doc``; whitespace is not kept as tokens (``doc.text`` may differ)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        pairs = _TOKEN.findall(text)
        doc = Doc(
            self.vocab,
            words=[word for word, _ in pairs],
            spaces=[bool(space) for _, space in pairs],
        )
        doc.user_data[RAW_TEXT] = text
        return doc

    def pipe(self, texts: Any, batch_size: int = 1000) -> Any:
        """Tokenize a stream of texts (spaCy's tokenizer interface)."""
        for text in texts:
            yield self(text)

    def to_disk(self, path: Path, *, exclude: Any = ()) -> None:
        """Write the pattern, so a model records how it was tokenized."""
        Path(path).write_text(json.dumps({"pattern": PATTERN}) + "\n")

    def from_disk(self, path: Path, *, exclude: Any = ()) -> "WordTokenizer":
        """Check that the model was trained with this tokenizer's pattern.

        Raises:
            ModelError: the stored pattern differs (the model needs retraining).
        """
        try:
            stored = json.loads(Path(path).read_text())["pattern"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"tokenizer data in {path} is unreadable ({exc}); run `dsr train`"
            ) from exc
        if stored != PATTERN:
            raise ModelError(f"model at {path} was tokenized differently; run `dsr train`")
        return self

    def to_bytes(self, *, exclude: Any = ()) -> bytes:
        """The pattern as bytes (spaCy's serialisation interface)."""
        return PATTERN.encode()

    def from_bytes(self, data: bytes, *, exclude: Any = ()) -> "WordTokenizer":
        """Accept what :meth:`to_bytes` wrote."""
        return self


def create_word_tokenizer() -> Callable[[Language], WordTokenizer]:
    """Config entry ``[nlp.tokenizer] @tokenizers = "dsr.WordTokenizer.v1"``.

    The pipeline's vocab then computes only :data:`LEXEME_ATTRS` for new words.
    """

    def make(nlp: Language) -> WordTokenizer:
        vocab: Any = nlp.vocab  # spaCy's type stubs lack lex_attr_getters
        getters = vocab.lex_attr_getters
        vocab.lex_attr_getters = {a: f for a, f in getters.items() if a in LEXEME_ATTRS}
        return WordTokenizer(nlp.vocab)

    return make


registry.tokenizers.register("dsr.WordTokenizer.v1", func=create_word_tokenizer)
