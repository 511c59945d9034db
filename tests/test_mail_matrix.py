"""The render matrix: every reply template × every language we answer in × every case shape,
fed the way the outbox feeds it (JSON, dates as ISO strings), composed into a whole message.

This is the test that catches a kept-until date reaching babel as a string (the `delete_done`
AssertionError), a template missing in one language, or a letter naming things in English.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.case.messages import MailPayload, mail_item
from mail.compose import TEMPLATES, MailSpec, compose, render
from mail.context import CONTEXT_KEYS, typed_context
from mail.errors import TemplateError
from mail.i18n import FIELD_NAMES, KEPT_DATA, LANGUAGES

LONG = "x" * 3000

INVOICE = {"table": "invoice", "what": "Invoices", "why": "tax law", "until": "2036-12-31"}
LOG = {"table": "activity_log", "what": "Activity log", "why": "claims", "until": "2027-12-04"}
FOREIGN = {"table": "orders_legacy", "what": "Old orders", "why": "HGB § 257", "until": None}

#: template -> shape name -> context, as JSON would carry it.
SHAPES: dict[str, dict[str, dict[str, Any]]] = {
    "acknowledgement": {
        "one": {"intents": ["see"], "due_date": "2027-01-04"},
        "several": {"intents": ["see", "change", "delete"], "due_date": "2027-02-28"},
    },
    "challenge": {
        "one": {
            "code": "ABCD-EFGH",
            "expires_at": "2026-12-11T10:00:00+00:00",
            "asked_on": "2026-12-04",
            "requester": None,
            "asks": [{"kind": "delete"}],
        },
        "e-mail change, from someone else": {
            "code": "ABCD-EFGH",
            "expires_at": "2026-12-11T10:00:00+00:00",
            "asked_on": "2026-12-04",
            "requester": "eve@example.net",
            "asks": [
                {"kind": "change_email", "old": "a@example.org", "new": "eve@example.net"},
                {"kind": "change", "fields": ["phone"]},
            ],
        },
    },
    "challenge_new_address": {
        "one": {
            "code": "ABCD-EFGH",
            "expires_at": "2026-12-11T10:00:00+00:00",
            "asked_on": "2026-12-04",
        }
    },
    "rejected": {"short": {"reason": "no order"}, "long": {"reason": LONG}},
    "access_package": {
        "plain": {},
        "portable, asked whom we share with": {
            "portable": True,
            "asked_recipients": True,
            "shared_with": ["Google Analytics: Cookie and analytics identifiers"],
        },
        "asked, shared with nobody": {"asked_recipients": True, "shared_with": []},
    },
    "change_done": {
        "one": {"fields": ["phone"]},
        "recipients told": {
            "fields": ["phone"],
            "recipients_told": ["Usersnap GmbH"],
            "recipients_by_hand": ["Yandex Metrica (Yandex LLC)"],
        },
        "nobody to tell": {"fields": ["city"], "recipients_told": [], "recipients_by_hand": []},
        "several": {"fields": ["street", "postal_code", "city", "email", "name"]},
        "unknown field": {"fields": ["loyalty_tier"]},
    },
    "delete_done": {
        "nothing kept": {"retained": []},
        "invoices kept": {"retained": [INVOICE]},
        "several tables": {"retained": [INVOICE, LOG, FOREIGN]},
        "long values": {"retained": [{**FOREIGN, "what": LONG, "why": LONG}]},
        "recipients told and by hand": {
            "retained": [INVOICE],
            "recipients_told": ["Google Analytics (Google Ireland Ltd / Google LLC)", "Usersnap"],
            "recipients_by_hand": ["Yandex Metrica (Yandex LLC)"],
            "desk_purged": 2,
            "desk_purge_on": "2029-12-04",
        },
        "only by hand": {
            "retained": [],
            "recipients_told": [],
            "recipients_by_hand": ["Yandex Metrica (Yandex LLC)"],
            "desk_purged": 0,
            "desk_purge_on": "2029-12-04",
        },
        "nobody to tell": {"retained": [], "recipients_told": [], "recipients_by_hand": []},
        "no earlier requests": {"retained": [], "desk_purged": 0, "desk_purge_on": "2029-12-04"},
    },
    "concern_ack": {
        "plain": {"authority_name": "the EDPB", "authority_url": "https://edpb.europa.eu/"}
    },
    "unsubscribe_done": {"plain": {}},
    "expired": {"plain": {}},
    "processor_redirect": {
        "plain": {"reseller": "the reseller you registered your domain with"},
        "forwarded": {"reseller": "DomainPartner AG", "forwarded": "mail"},
        "by hand": {"reseller": "NetShop SARL", "forwarded": "by_hand"},
        "unknown reseller": {
            "reseller": "the reseller you registered your domain with",
            "forwarded": "none",
        },
    },
    "extension": {
        "short": {"new_due_date": "2027-03-04", "reason": "we received many requests"},
        "long": {"new_due_date": "2027-03-04", "reason": LONG},
    },
    "not_found": {"plain": {}},
    "verification_failed": {"plain": {}},
    "objection_done": {"plain": {}},
    "restriction_done": {
        "one purpose": {"purposes": ["Billing"]},
        "several": {"purposes": ["Billing", "Customer support", LONG]},
        "none listed": {"purposes": []},
    },
    "restriction_lifting": {"plain": {}},
    "representative_needed": {"plain": {}},
    "request_joined": {"plain": {"received_on": "2026-11-24", "due_date": "2026-12-24"}},
    "recipient_erasure": {
        "cookie": {
            "recipient": "Google Analytics (Google Ireland Ltd / Google LLC)",
            "identifiers": ["cookie_name: _ga", "identifier: 1a2b3c.1700000000"],
        },
        "invoice numbers": {
            "recipient": "Our tax advisers",
            "identifiers": ["number: INV-1-1", "number: INV-1-2"],
        },
    },
    "recipient_rectification": {
        "one": {
            "recipient": "Usersnap GmbH",
            "identifiers": ["identifier: 77aa"],
            "fields": ["name", "city"],
        }
    },
    "recipient_restriction": {
        "one": {"recipient": "Usersnap GmbH", "identifiers": ["identifier: 77aa"]}
    },
    "processor_request": {
        "domain": {
            "recipient": "DomainPartner AG",
            "identifiers": ["domain: alice1.example"],
            "intents": ["delete"],
        }
    },
}
CASES = [
    pytest.param(t, lang, shape, id=f"{t}-{lang}-{shape}")
    for t in TEMPLATES
    for lang in LANGUAGES
    for shape in SHAPES[t]
]


def as_from_outbox(context: Mapping[str, Any]) -> dict[str, Any]:
    """The context after a trip through an outbox row (JSON)."""
    item = mail_item("x", to="a@example.com", lang="en", context=context)
    stored = json.loads(json.dumps(item.payload))
    return dict(MailPayload.from_json(stored).context)


def test_every_template_has_shapes_and_declared_keys() -> None:
    assert set(SHAPES) == set(TEMPLATES) == set(CONTEXT_KEYS)


@pytest.mark.parametrize(("template", "lang", "shape"), CASES)
def test_renders_and_composes(template: str, lang: str, shape: str) -> None:
    context = as_from_outbox(SHAPES[template][shape])
    out = render(template, lang=lang, context={"case_ref": "DSR-7", **context})
    assert out.lang == lang
    assert "{{" not in out.text and "{%" not in out.text and "\n\n\n" not in out.text
    assert "[DSR-7]" in out.text
    spec = MailSpec(
        template,
        lang=lang,
        context=context,
        to="alice@example.com",
        from_addr="privacy@example.com",
        case_ref="DSR-7",
        message_id="<DSR-7.1.abc@example.com>",
        in_reply_to="<request-1@customer.example.com>",
        references=["<request-1@customer.example.com>"],
    )
    msg = compose(spec, now=datetime(2026, 12, 4, tzinfo=UTC))
    assert msg["Subject"].startswith("[DSR-7]")
    assert msg["In-Reply-To"] == "<request-1@customer.example.com>"
    assert msg["Content-Language"] == out.lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_kept_data_is_named_in_the_letters_language(lang: str) -> None:
    context = as_from_outbox(SHAPES["delete_done"]["several tables"])
    text = render("delete_done", lang=lang, context={"case_ref": "DSR-7", **context}).text
    for table in ("invoice", "activity_log"):
        title, why = KEPT_DATA[table][lang]
        assert title in text and why in text
    assert (
        "Old orders" in text and "HGB § 257" in text
    )  # no translation known: the data map's own words
    if lang != "en":
        assert "tax law" not in text and "Invoices:" not in text
    assert "2036" in text and "2036-12-31" not in text  # written out, not ISO


@pytest.mark.parametrize("lang", LANGUAGES)
def test_changed_fields_are_named_in_the_letters_language(lang: str) -> None:
    context = {"case_ref": "DSR-7", "fields": ["phone", "city"]}
    text = render("change_done", lang=lang, context=context).text
    assert FIELD_NAMES[lang]["phone"] in text and FIELD_NAMES[lang]["city"] in text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_access_mail_names_the_real_attachments(lang: str) -> None:
    text = render("access_package", lang=lang, context={"case_ref": "DSR-7"}).text
    assert "personal-data.json" in text and "personal-data.html" in text
    assert "data.json" not in text.replace("personal-data.json", "")
    assert "report.html" not in text


def test_a_value_of_the_wrong_kind_is_named() -> None:
    with pytest.raises(TemplateError, match="delete_done: retained"):
        typed_context("delete_done", {"retained": "Invoices until 2036"})
    with pytest.raises(TemplateError, match="acknowledgement: due_date"):
        typed_context("acknowledgement", {"intents": ["see"], "due_date": "next week"})
