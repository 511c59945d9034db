"""`Case.data` and the outbox mail payload are typed: validated when read, stable when stored."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from bot.case.data import CaseData, SubjectFacts, case_data, request_data, verified_address
from bot.case.messages import MailPayload, mail_item
from intents.extract import extract
from storage.errors import StorageError
from storage.models import Case, CaseState


def _case(data: dict[str, object]) -> Case:
    return Case(state=CaseState.RECEIVED, due_on=date(2026, 1, 1), data=data)


def test_a_mistyped_key_fails_when_read() -> None:
    with pytest.raises(ValidationError, match="verifed_address"):
        case_data(_case({"verifed_address": "a@example.org"}))


def test_round_trip_keeps_every_field() -> None:
    data = CaseData(
        identifiers=("a@example.org",),
        changes=(("phone", "+4930123"),),
        message_id="<m@x>",
        references=("<r@x>",),
        subject=SubjectFacts(found=True, addresses=("A@Example.org",), accounts=("1",)),
        verified_address="a@example.org",
    )
    assert case_data(_case(data.to_json())) == data
    assert data.with_(failure="boom").failure == "boom"
    with pytest.raises(ValidationError):
        data.with_(nonsense=1)


def test_request_data_puts_the_requester_first_and_keeps_ten() -> None:
    found = extract(" ".join(f"u{i}@example.org" for i in range(12)) + " my phone is now +4930123")
    data = request_data("me@example.org", found, text="delete my domain name", subject_line="x")
    assert data.identifiers[0] == "me@example.org"
    assert len(data.identifiers) == 10
    assert data.processor is True


@pytest.mark.parametrize(
    ("reply", "on_file", "expected"),
    [
        ("alice@example.org", ("Alice@Example.org",), "Alice@Example.org"),
        (None, ("b@example.org", "c@example.org"), "b@example.org"),
        ("x@example.org", (), None),
    ],
    ids=["spelling-on-file", "first-on-file", "nothing-on-file"],
)
def test_verified_address(
    reply: str | None, on_file: tuple[str, ...], expected: str | None
) -> None:
    data = CaseData(subject=SubjectFacts(addresses=on_file), verified_address=reply)
    assert verified_address(_case(data.to_json())) == expected


def test_mail_payload_round_trip_and_refusal() -> None:
    item = mail_item(
        "challenge", to="a@example.org", lang=None, context={"code": "X"}, references=["<r@x>"]
    )
    payload = MailPayload.from_json(item.payload, row=1)
    assert payload.to == "a@example.org" and payload.lang == "en"
    assert payload.references == ("<r@x>",)
    assert payload.to_json() == item.payload
    with pytest.raises(StorageError, match="row 9"):
        MailPayload.from_json({"lang": "en"}, row=9)


def test_a_triage_card_says_why_and_names_an_unknown_language() -> None:
    from bot.slack.facts import case_notes

    data = CaseData(review_reason="unknown_language").to_json()
    case = Case(state=CaseState.NEEDS_TRIAGE, due_on=date(2026, 1, 1), data=data, language="th")
    (note,) = case_notes(case, approvals=0, needed=1)
    assert "language we do not understand" in note and "`th`" in note
    done = Case(state=CaseState.DONE, due_on=date(2026, 1, 1), data=data, language="th")
    assert case_notes(done, approvals=0, needed=1) == ()
