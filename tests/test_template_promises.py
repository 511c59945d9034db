"""A promise in a mail is a feature: every sentence of a reply template that promises an action
maps to the code that performs it and to the test that proves it (#16).

English is the reference; the other 13 languages must have the same templates (their sentences
are translations, checked by tests/test_mail_matrix.py); included parts count for the template
that includes them. A new promise sentence without a row here fails; so does a row whose
sentence, code or test no longer exists.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from mail.compose import TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "mail" / "templates"
LANGUAGES = ("en", "de", "nl", "sv", "fr", "es", "it", "pt", "ro", "pl", "ru", "cs", "hr", "el")

#: What makes a sentence a promise of an action.
PROMISE = re.compile(
    r"\b(we will|we'll|will be|will not|nothing will|expires?|is valid until)\b", re.IGNORECASE
)
#: Sentences of included parts (`{% include %}`) count for the template that includes them.
_INCLUDE = re.compile(r'\{%\s*include\s+"([^"]+)"\s*%\}')


@dataclass(frozen=True)
class Promise:
    template: str
    #: A part of the sentence that identifies it (the template's words, Jinja removed).
    words: str
    #: `module:attribute` of the code that keeps the promise.
    code: str
    #: `tests/file.py::test_name` that proves it.
    test: str


E2E = "tests/test_agent_e2e.py"
RIGHTS = "tests/test_rights_e2e.py"
VERIFY = "tests/test_agent_verification.py"

TABLE = (
    Promise(
        "access_package",
        "reply to this e-mail and we will correct it",
        "bot.work.intake:_reply",
        f"{E2E}::test_a_reply_joins_its_case",
    ),
    Promise(
        "acknowledgement",
        "We will reply by … at the latest",
        "bot.work.scheduler:send_reminders",
        "tests/test_slack_outbox.py::test_reminder_goes_to_the_thread_and_the_channel",
    ),
    Promise(
        "acknowledgement",
        "if we ever need longer, we will tell you why before that date",
        "bot.work.actions:extend",
        "tests/test_slack_app.py::test_extend_with_months_and_reason",
    ),
    Promise(
        "acknowledgement",
        "If we need anything from you, we will write to you",
        "bot.work.pipeline:to_requester",
        f"{E2E}::test_unverified_case_expires_with_a_polite_mail",
    ),
    Promise(
        "challenge",
        "The code is valid until …",
        "bot.work.pipeline:_expire",
        "tests/test_agent_security.py::test_reused_and_expired_codes_fail",
    ),
    Promise(
        "challenge",
        "reply NO or ignore this mail: nothing will happen",
        "bot.work.intake:_refused",
        f"{VERIFY}::test_the_challenge_says_what_is_at_stake_and_no_closes_the_case",
    ),
    Promise(
        "challenge_new_address",
        "reply NO or ignore this mail: nothing will happen",
        "bot.work.intake:_refused",
        f"{VERIFY}::test_the_new_address_is_challenged_whether_or_not_an_account_exists",
    ),
    Promise(
        "challenge_new_address",
        "The code is valid until …",
        "bot.work.pipeline:_expire",
        "tests/test_agent_security.py::test_reused_and_expired_codes_fail",
    ),
    Promise(
        "verification_failed",
        "reply NO or ignore our mails: nothing will happen",
        "bot.work.intake:_refused",
        f"{VERIFY}::test_ignoring_the_challenge_changes_nothing",
    ),
    Promise(
        "delete_done",
        "will be deleted when the period ends",
        "storage.customer.executor:Executor.sweep",
        "tests/test_executor.py::test_sweep_erases_what_left_retention",
    ),
    Promise(
        "not_found",
        "please write to us from that address and we will be glad to help",
        "bot.work.intake:_request",
        f"{E2E}::test_see_request_sends_the_access_package_to_the_address_on_file",
    ),
    Promise(
        "processor_redirect",
        "We will support them in answering it",
        "bot.work.telling:forward_to_controllers",
        "tests/test_recipients_e2e.py::test_a_processor_data_request_reaches_the_named_reseller",
    ),
    Promise(
        "objection_done",
        "so it will not be subscribed again, not even by a later import of customer data",
        "storage.customer.importer:import_customers",
        f"{RIGHTS}::test_objection_to_marketing_opts_out_at_once_and_survives_a_reimport",
    ),
    Promise(
        "objection_done",
        "We will not use your data for direct marketing any more",
        "storage.customer.rights:suppress",
        f"{RIGHTS}::test_objection_to_marketing_opts_out_at_once_and_survives_a_reimport",
    ),
    Promise(
        "representative_needed",
        "we will write to them directly at the address we have on file",
        "bot.work.pipeline:_challenge",
        f"{RIGHTS}::test_a_lawyers_letter_challenges_only_the_subject_and_data_goes_only_to_her",
    ),
    Promise(
        "request_joined",
        "We will answer both together by … at the latest",
        "bot.work.intake:_join",
        f"{RIGHTS}::test_the_same_request_three_times_joins_one_case_and_is_flagged",
    ),
    Promise(
        "restriction_done",
        "We will inform you before the restriction is lifted",
        "bot.work.actions:lift",
        f"{RIGHTS}::test_restriction_is_marked_shown_and_lifted_only_after_the_customer_is_told",
    ),
    Promise(
        "restriction_lifting",
        "The restriction of your data will be lifted",
        "bot.work.pipeline:_lift",
        f"{RIGHTS}::test_restriction_is_marked_shown_and_lifted_only_after_the_customer_is_told",
    ),
    Promise(
        "restriction_lifting",
        "we will lift the restriction of the processing of your personal data",
        "bot.work.pipeline:_lift",
        f"{RIGHTS}::test_restriction_is_marked_shown_and_lifted_only_after_the_customer_is_told",
    ),
    Promise(
        "restriction_lifting",
        "It is lifted once this message has been sent",
        "bot.work.pipeline:_lift",
        f"{RIGHTS}::test_restriction_is_marked_shown_and_lifted_only_after_the_customer_is_told",
    ),
)


def sentences(template: str, lang: str = "en") -> list[str]:
    """The template's sentences (subject and body), Jinja tags removed, values as `…`."""
    raw = (TEMPLATE_DIR / lang / f"{template}.txt.j2").read_text(encoding="utf-8")
    raw = _INCLUDE.sub(lambda m: (TEMPLATE_DIR / m.group(1)).read_text(encoding="utf-8"), raw)
    text = re.sub(r"\{#.*?#\}", "\n", raw, flags=re.DOTALL)
    text = re.sub(r"\{%.*?%\}", "\n", raw)
    text = re.sub(r"\{\{.*?\}\}", "…", text)
    # "Art. 19" and "Art. 18(3)" do not end a sentence
    parts = re.split(r"(?<!Art\.)(?<=[.!?])\s+|\n+", text)
    return [" ".join(p.split()) for p in parts if p.strip()]


def promises(template: str) -> list[str]:
    """The English template's sentences that promise an action."""
    return [s for s in sentences(template) if PROMISE.search(s)]


def test_every_language_has_the_same_templates() -> None:
    """Every reply template and part of the English reference exists in each language (a
    language may have more parts, e.g. the partner mails' own base)."""
    reference = {p.name for p in (TEMPLATE_DIR / "en").glob("*.txt.j2")}
    assert {f"{t}.txt.j2" for t in TEMPLATES} <= reference
    for lang in LANGUAGES:
        names = {p.name for p in (TEMPLATE_DIR / lang).glob("*.txt.j2")}
        assert reference <= names, (lang, sorted(reference - names))
        assert {n for n in names if not n.startswith("_")} == {
            n for n in reference if not n.startswith("_")
        }, lang


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_promise_sentence_has_a_row(template: str) -> None:
    rows = [p for p in TABLE if p.template == template]
    for sentence in promises(template):
        matching = [p for p in rows if p.words in sentence]
        assert matching, (
            f"{template}: the sentence {sentence!r} promises an action but has no row in "
            "TABLE (tests/test_template_promises.py): name the code that does it and its test"
        )


@pytest.mark.parametrize("row", TABLE, ids=lambda p: f"{p.template}:{p.words[:30]}")
def test_every_row_names_a_real_sentence_code_and_test(row: Promise) -> None:
    assert row.template in TEMPLATES
    assert any(row.words in s for s in promises(row.template)), (
        f"{row.template}: no promise sentence contains {row.words!r} any more"
    )
    module, _, attribute = row.code.partition(":")
    target: object = importlib.import_module(module)
    for name in attribute.split("."):
        target = getattr(target, name)
    assert callable(target), row.code
    path, _, test_name = row.test.partition("::")
    assert re.search(
        rf"^(async )?def {re.escape(test_name)}\(", (ROOT / path).read_text(), re.MULTILINE
    ), row.test


@pytest.mark.parametrize(
    "sentence",
    ["We will delete it tomorrow.", "Your data will be sent to you.", "Nothing will change."],
)
def test_the_detector_sees_promises(sentence: str) -> None:
    assert PROMISE.search(sentence)


def test_the_detector_ignores_statements() -> None:
    assert not PROMISE.search("We have removed your e-mail address from our newsletters.")
