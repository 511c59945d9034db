"""spaCy factory ``article_cue``: raise the scores of the rights a letter cites by article.

The last component of the pipeline. It reads which intents the text cites by article number
(:func:`intents.articles.cited_intents`), keeps them in ``doc._.cited_intents`` and moves each
cited intent's mixed score ``weight`` of the way to 1 (:func:`intents.articles.raise_cited`).
The weight is tuned on held-out messages with the mixing weight (``intents.tune.tune_cue``);
0 leaves the scores alone. Importing this module registers the factory.
"""

from collections.abc import Iterable, Iterator
from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc

from intents.articles import cited_intents, raise_cited
from intents.encoder_components import raw_text, read_component_json, write_component_json
from intents.errors import ModelError

if not Doc.has_extension("cited_intents"):
    Doc.set_extension("cited_intents", default=())


class ArticleCue:
    """Raises the mixed scores of the intents whose article the text cites."""

    def __init__(self, name: str, weight: float) -> None:
        self.name = name
        self.weight = weight

    def __call__(self, doc: Doc) -> Doc:
        cited = cited_intents(raw_text(doc))
        doc._.cited_intents = cited
        if cited and self.weight > 0.0 and doc.cats:
            doc.cats = raise_cited(doc.cats, cited, self.weight)
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """One doc at a time (a few regular expressions each)."""
        for doc in docs:
            yield self(doc)

    def to_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> None:
        """Write ``cue.json`` (the weight)."""
        write_component_json(path, "cue.json", {"weight": self.weight})

    def from_disk(self, path: Path, *, exclude: tuple[str, ...] = ()) -> "ArticleCue":
        """Read what ``to_disk`` wrote.

        Raises:
            ModelError: ``cue.json`` is missing or unreadable.
        """
        file = Path(path) / "cue.json"
        try:
            self.weight = float(read_component_json(file, "article cue")["weight"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(
                f"article cue data {file} is unreadable ({exc}); run `dsr train`"
            ) from exc
        return self


@Language.factory("article_cue", default_config={"weight": 0.0})
def make_article_cue(nlp: Language, name: str, weight: float) -> ArticleCue:
    """Factory for :class:`ArticleCue` (weight 0 until tuned or read from disk)."""
    return ArticleCue(name, weight)
