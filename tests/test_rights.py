"""The rights pieces without servers: the sub-intent model (intents.rights), the intents a case
handles (bot.case.policy), repeats (bot.case.repeats), the suppression hash and the purposes an
objection concerns (storage.customer.rights), the card lines (bot.slack.facts).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.case.data import CaseData
from bot.case.policy import Route, rights_intents, route
from bot.case.repeats import decide
from bot.slack.facts import rights_notes
from intents.classify import Classification
from intents.labels import Intent
from intents.rights import (
    CORPUS_DIR,
    NONE,
    evaluate,
    load_corpus,
    refine,
    refine_text,
)
from storage.customer.rights import address_hash, normalise_address, objectable_purposes
from storage.datamap import load_datamap
from storage.models import Case, CaseState, utcnow

DATAMAP = Path(__file__).resolve().parents[1] / "storage" / "datamap.yaml"
LANGUAGES = {"en", "nl", "de", "fr", "es", "it", "sv", "pt", "ro", "pl", "ru", "cs", "hr", "el"}


def test_corpus_covers_the_14_reply_languages_and_every_label() -> None:
    examples = load_corpus()
    assert {e.language for e in examples} == LANGUAGES
    assert {p.stem for p in CORPUS_DIR.glob("*.jsonl")} == LANGUAGES
    labels = {e.rights for e in examples}
    assert labels == {"object_marketing", "object", "restrict", NONE}
    # a split by situation needs every label (and "on behalf") in at least two situations
    for label in labels:
        assert len({e.situation for e in examples if e.rights == label}) >= 2, label
    assert len({e.situation for e in examples if e.on_behalf}) >= 2


def test_the_cue_model_is_accurate_and_beats_the_held_out_baseline() -> None:
    """The README's figures (`python -m intents.rights`): floors, not the exact values."""
    fig = evaluate(load_corpus())
    assert fig.situations == 17 and fig.examples == 238
    assert fig.rights_accuracy >= 0.95, fig.errors
    assert fig.behalf_accuracy >= 0.95
    assert fig.recall[NONE] >= 0.95  # a plain request is not mistaken for an objection
    # the counted baseline, held out by situation, is far behind: it decides nothing
    assert fig.baseline_rights < fig.rights_accuracy


@pytest.mark.parametrize(
    ("text", "rights", "behalf"),
    [
        (
            "I object to direct marketing. No more advertising, please.",
            ("object_marketing",),
            False,
        ),
        ("Ich widerspreche der Nutzung meiner Daten für Werbung.", ("object_marketing",), False),
        ("Sprzeciwiam się profilowaniu na podstawie uzasadnionego interesu.", ("object",), False),
        ("Ne supprimez pas mes données, limitez seulement le traitement.", ("restrict",), False),
        ("Please unsubscribe me from the newsletter.", (), False),
        ("Stop sending me marketing e-mails.", (), False),
        ("Als advocaat van mevrouw De Vries vraag ik namens haar inzage.", (), True),
        ("Как адвокат г-на Петрова прошу от его имени удалить его данные.", (), True),
    ],
    ids=[
        "en-marketing",
        "de-marketing",
        "pl-object",
        "fr-restrict",
        "en-unsub",
        "en-stop",
        "nl-lawyer",
        "ru-lawyer",
    ],
)
def test_texts_outside_the_corpus(text: str, rights: tuple[str, ...], behalf: bool) -> None:
    found = refine_text(text)
    assert (found.rights, found.on_behalf) == (rights, behalf)


def _result(needs_review: bool = False, reason: str = "") -> Classification:
    return Classification(
        intent=Intent.DELETE,
        intents=(Intent.DELETE,),
        scores={"delete": 0.4},
        language="en",
        needs_review=needs_review,
        review_reason=reason,
    )


def test_a_found_right_settles_only_a_low_score_review() -> None:
    text = "Don't delete my data yet; restrict the processing until you checked it."
    assert refine(_result(True, "low_score"), text).rights == ("restrict",)
    assert not refine(_result(True, "low_score"), text).needs_review
    kept = refine(_result(True, "unknown_language"), text)
    assert kept.needs_review and kept.rights == ()


def test_rights_change_what_the_case_handles() -> None:
    assert rights_intents((Intent.CONCERN,), ("object_marketing",)) == (Intent.UNSUBSCRIBE,)
    assert rights_intents((Intent.DELETE,), ("restrict",)) == (Intent.CONCERN,)
    assert rights_intents((Intent.SEE, Intent.DELETE), ("restrict",)) == (Intent.SEE,)
    assert rights_intents((Intent.CONCERN,), ("object",)) == (Intent.CONCERN,)
    assert route(["concern"], needs_review=False, rights=("restrict",)) is Route.VERIFY
    assert route(["unsubscribe"], needs_review=False) is Route.UNSUBSCRIBE
    # a representative's opt-out is verified with the subject, never done for the writer
    assert route(["unsubscribe"], needs_review=False, on_behalf=True) is Route.VERIFY


def _case(number: int, state: CaseState, intents: list[str], data: CaseData) -> Case:
    return Case(
        id=number,
        state=state,
        intents=intents,
        data=data.to_json(),
        received_at=utcnow() - timedelta(days=number),
        due_on=utcnow().date(),
    )


def test_repeats_join_the_open_case_and_a_stream_is_flagged() -> None:
    see = CaseData(identifiers=("a@example.org",))
    other_subject = CaseData(identifiers=("a@example.org", "b@example.org"))
    closed = _case(1, CaseState.DONE, ["see"], see)
    open_ = _case(2, CaseState.AWAITING_VERIFICATION, ["see"], see.with_(joined=1))
    first = decide([], see, ["see"], threshold=3)
    assert first.join is None and first.count == 1 and not first.repetitive
    again = decide([closed, open_], see, ["see"], threshold=3)
    assert again.join is open_ and again.count == 4 and again.repetitive
    assert again.history == ("DSR-1", "DSR-2")
    # another intent, another person or another change is another request
    assert decide([open_], see, ["delete"], threshold=3).join is None
    assert decide([open_], other_subject, ["see"], threshold=3).join is None
    change = CaseData(identifiers=("a@example.org",), changes=(("phone", "+1"),))
    assert decide([open_], change, ["see"], threshold=3).join is None


@given(st.emails())
def test_the_suppression_hash_ignores_case_and_spaces(address: str) -> None:
    key = b"k" * 32
    digest = address_hash(key, address)
    assert digest == address_hash(key, f"  {address.upper()} ")
    assert address.lower() not in digest and len(digest) == 64
    assert digest != address_hash(b"o" * 32, address)
    assert normalise_address(address) == address.strip().casefold()


def test_objection_purposes_are_those_based_on_legitimate_interests() -> None:
    purposes = objectable_purposes(load_datamap(DATAMAP))
    assert "Answering your enquiry" in purposes  # Art. 6(1)(b) and (f)
    assert "Security of our systems" in purposes  # Art. 6(1)(c) and (f)
    assert "Sending you the newsletter you subscribed to" not in purposes  # consent
    assert "Billing" not in purposes  # contract and legal obligation


def test_card_lines_name_the_right_the_representative_and_the_repeats() -> None:
    data = CaseData(
        rights=("object",),
        purposes=("Security of our systems", "*bold* <!channel>"),
        on_behalf=True,
        joined=2,
        repetitive=True,
        history=("DSR-1",),
    )
    text = "\n".join(rights_notes(data))
    assert "Art. 21(1)" in text and "Security of our systems" in text
    assert "<!channel>" not in text  # data-map words are escaped like customer text
    assert "*On behalf of*" in text and "3 in all" in text and "DSR-1" in text
