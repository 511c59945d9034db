"""The pure parts of telling recipients: task planning, the webhook signature, the phrase
detector for "whom did you share my data with", and the portable export writer."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.case.recipients import Action, plan_tasks, told_and_by_hand
from bot.work.webhook import check_signature, signature
from intents.shared_with import asks_about_recipients
from storage.customer.portable import write_portable
from storage.customer.recipients import Holding
from storage.datamap import load_datamap
from storage.models import TaskStatus

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _holding(key: str, channel: str, contact: str | None) -> Holding:
    return Holding(
        key=key,
        name=key.title(),
        channel=channel,
        contact=contact,
        language="de",
        secret="k" if channel == "webhook" else None,
        tables=("tracking_identifier",),
        categories=("online_identifiers",),
        identifiers=(("identifier", f"{key}-1"),),
    )


def test_one_task_per_recipient_with_only_what_it_holds() -> None:
    holdings = [
        _holding("ga", "email", "ga@example.com"),
        _holding("us", "webhook", "https://hooks.example.com/x"),
        _holding("ym", "manual", None),
    ]
    plans = plan_tasks(
        holdings, Action.ERASURE, case_id=7, case_ref="DSR-7", now=NOW, answer_days=14
    )
    by = {p.task.recipient_key: p for p in plans}
    mail = by["ga"].message
    assert mail is not None and mail.kind == "mail" and mail.template == "recipient_erasure"
    assert mail.payload["to"] == "ga@example.com" and mail.payload["lang"] == "de"
    assert mail.payload["context"]["identifiers"] == ["identifier: ga-1"]
    hook = by["us"].message
    assert hook is not None and hook.kind == "webhook"
    assert hook.payload["body"] == {
        "type": "dsr.erasure",
        "case": "DSR-7",
        "recipient": "us",
        "identifiers": {"identifier": ["us-1"]},
    }
    assert by["ym"].message is None and by["ym"].task.status == TaskStatus.BY_HAND
    assert all(p.task.due_at == datetime(2026, 12, 18, 10, 0, tzinfo=UTC) for p in plans)
    assert told_and_by_hand(holdings) == (["Ga", "Us"], ["Ym"])


def test_signature_is_checked_like_a_receiver_would() -> None:
    body = b'{"case":"DSR-7"}'
    sig = signature(b"secret", "1700000000", body)
    assert sig.startswith("v1=") and len(sig) == 67
    assert check_signature(b"secret", "1700000000", body, sig, now=1700000100)
    assert not check_signature(b"other", "1700000000", body, sig, now=1700000100)
    assert not check_signature(b"secret", "1700000000", body + b" ", sig, now=1700000100)
    assert not check_signature(b"secret", "1700000000", body, sig, now=1700000400)  # too old
    assert not check_signature(b"secret", "yesterday", body, sig, now=1700000100)


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=2**31))
def test_any_change_of_the_timestamp_breaks_the_signature(body: bytes, ts: int) -> None:
    sig = signature(b"k", str(ts), body)
    assert check_signature(b"k", str(ts), body, sig, now=ts)
    assert not check_signature(b"k", str(ts + 1), body, sig, now=ts)


@pytest.mark.parametrize(
    "text",
    [
        "Who did you share my data with?",
        "Please tell me which companies you passed my data to.",
        "An wen haben Sie meine Daten weitergegeben?",
        "Met wie hebben jullie mijn gegevens gedeeld?",
        "Till vem har ni lämnat ut mina uppgifter?",
        "À qui avez-vous communiqué mes données ?",
        "¿Con quién han compartido mis datos?",
        "A chi avete comunicato i miei dati?",
        "Com quem partilharam os meus dados?",
        "Cui ați transmis datele mele?",
        "Komu przekazaliście moje dane?",
        "Кому вы передали мои данные?",
        "Komu jste předali mé údaje?",
        "Kome ste proslijedili moje podatke?",
        "Σε ποιους κοινοποιήσατε τα δεδομένα μου;",
    ],
)
def test_the_question_is_recognised_in_every_language(text: str) -> None:
    assert asks_about_recipients(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please delete my account.",
        "Send me a copy of all the personal data you hold about me.",
        "Bitte löschen Sie meine Daten.",
        "Who are you?",
    ],
)
def test_other_requests_are_not_taken_for_it(text: str) -> None:
    assert not asks_about_recipients(text)


def test_portable_export_holds_only_provided_columns(tmp_path: Path) -> None:
    dm = load_datamap("storage/datamap.yaml")
    cols = dm.tables["customer"].provided_columns()
    row = tuple(f"v-{c}" for c in cols)
    out = write_portable(tmp_path, dm, {"customer": [row]}, now=NOW)
    names = sorted(p.name for p in out.files)
    assert names == [
        "provided-contact_message.csv",
        "provided-customer.csv",
        "provided-data.json",
        "provided-newsletter_subscription.csv",
    ]
    doc = json.loads((tmp_path / "provided-data.json").read_text(encoding="utf-8"))
    assert doc["tables"]["customer"]["rows"] == [dict(zip(cols, row, strict=True))]
    assert "activity_log" not in doc["tables"] and "invoice" not in doc["tables"]
    with open(tmp_path / "provided-customer.csv", encoding="utf-8", newline="") as handle:
        assert list(csv.reader(handle)) == [cols, list(row)]
