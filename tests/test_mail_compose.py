"""Tests for mail.compose: every template in every language, escaping, headers, and header
injection attempts sent through a real SMTP server and read back."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser

import pytest

from bot.case.consent import Stance, stance
from mail.compose import TEMPLATES, Attachment, MailSpec, compose, render
from mail.errors import TemplateError
from mail.i18n import LANGUAGES
from mail.parse import parse_message
from mail.robots import RobotKind, detect_robot
from mail.smtp import SmtpSender
from mail.threading import make_message_id, referenced_case
from tests.servers.smtp import SmtpServer

CONTEXT: dict[str, dict[str, object]] = {
    "acknowledgement": {"intents": ["see", "delete"], "due_date": date(2026, 12, 29)},
    "challenge": {
        "code": "K7Q2-M9XD",
        "expires_at": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        "asked_on": date(2026, 11, 24),
        "requester": "eve@evil.example",
        "asks": [
            {"kind": "delete"},
            {"kind": "change_email", "old": "alice@customer.example", "new": "eve@evil.example"},
            {"kind": "change", "fields": ["phone"]},
            {"kind": "see"},
        ],
    },
    "challenge_new_address": {
        "code": "K7Q2-M9XD",
        "expires_at": datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        "asked_on": date(2026, 11, 24),
    },
    "rejected": {"reason": "we could not find the order you mention"},
    "access_package": {},
    "change_done": {"fields": ["phone", "street"]},
    "delete_done": {
        "retained": [{"what": "Invoices", "why": "tax law", "until": date(2033, 12, 31)}]
    },
    "concern_ack": {
        "authority_name": "Autoriteit Persoonsgegevens",
        "authority_url": "https://autoriteitpersoonsgegevens.nl/",
    },
    "unsubscribe_done": {},
    "expired": {},
    "processor_redirect": {"reseller": "Example Domains B.V."},
    "extension": {"new_due_date": date(2027, 2, 28), "reason": "the request is complex"},
    "not_found": {},
    "verification_failed": {},
    "objection_done": {},
    "restriction_done": {"purposes": ["Billing", "Customer support"]},
    "restriction_lifting": {},
    "representative_needed": {},
    "request_joined": {"received_on": date(2026, 11, 24), "due_date": date(2026, 12, 24)},
    "recipient_erasure": {"recipient": "Usersnap GmbH", "identifiers": ["identifier: 77aa"]},
    "recipient_rectification": {
        "recipient": "Usersnap GmbH",
        "identifiers": ["identifier: 77aa"],
        "fields": ["city"],
    },
    "recipient_restriction": {"recipient": "Usersnap GmbH", "identifiers": ["identifier: 77aa"]},
    "processor_request": {
        "recipient": "DomainPartner AG",
        "identifiers": ["domain: alice.example"],
        "intents": ["see"],
    },
}
DOMAIN = "shop.example"


def build(template: str = "acknowledgement", lang: str = "en", **kw: object) -> object:
    args: dict[str, object] = {
        "lang": lang,
        "context": CONTEXT[template],
        "to": "alice@customer.example",
        "from_addr": "privacy@shop.example",
        "case_ref": "DSR-12",
        "message_id": "<DSR-12.5.abcdef0123456789@shop.example>",
        "now": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
    }
    args.update(kw)
    now = args.pop("now")
    return compose(MailSpec(template, **args), now=now)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_renders_in_every_language(template: str, lang: str) -> None:
    out = render(template, lang=lang, context={"case_ref": "DSR-12", **CONTEXT[template]})
    assert out.lang == lang
    assert out.subject and "\n" not in out.subject
    assert "[DSR-12]" in out.text  # the "keep the reference" line
    assert "{{" not in out.text and "{%" not in out.text
    assert "\n\n\n" not in out.text
    assert out.html.startswith("<!DOCTYPE html>") and f'lang="{lang}"' in out.html
    for value in CONTEXT[template].values():
        if isinstance(value, str):
            assert value in out.text


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_refuses_a_missing_key(template: str) -> None:
    if not CONTEXT[template]:
        with pytest.raises(TemplateError, match="case_ref"):
            render(template, lang="en", context={})
        return
    key = next(iter(CONTEXT[template]))
    partial = {k: v for k, v in CONTEXT[template].items() if k != key}
    with pytest.raises(TemplateError, match=key):
        render(template, lang="en", context={"case_ref": "DSR-1", **partial})


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("de-AT", "de"), ("FR", "fr"), ("pt-BR", "pt"), ("tr-TR", "en"), ("", "en"), ("nl_BE", "nl")],
)
def test_language_choice_and_fallback(tag: str, expected: str) -> None:
    msg = build(lang=tag)
    assert msg["Content-Language"] == expected  # type: ignore[index]


def test_dates_are_written_in_the_letters_language() -> None:
    assert "29 December 2026" in render(
        "acknowledgement", lang="en", context={"case_ref": "DSR-1", **CONTEXT["acknowledgement"]}
    ).text.replace("December 29, 2026", "29 December 2026")
    de = render(
        "acknowledgement", lang="de", context={"case_ref": "DSR-1", **CONTEXT["acknowledgement"]}
    )
    assert "29. Dezember 2026" in de.text and "Löschung Ihrer Daten" in de.text
    es = render("challenge", lang="es", context={"case_ref": "DSR-1", **CONTEXT["challenge"]})
    assert "1 de diciembre de 2026, 10:00 UTC" in es.text


def test_headers_thread_and_tag() -> None:
    msg = build(
        in_reply_to="<orig@customer.example>",
        references=["<a@customer.example>", "not an id", "<orig@customer.example>"],
    )
    assert msg["Subject"] == "[DSR-12] We have received your request"  # type: ignore[index]
    assert msg["Message-ID"] == "<DSR-12.5.abcdef0123456789@shop.example>"  # type: ignore[index]
    assert msg["In-Reply-To"] == "<orig@customer.example>"  # type: ignore[index]
    assert str(msg["References"]).split() == ["<a@customer.example>", "<orig@customer.example>"]  # type: ignore[index]
    assert msg["Auto-Submitted"] == "auto-replied"  # type: ignore[index]
    assert (msg["X-DSR-Case"], msg["X-DSR-Template"]) == ("DSR-12", "acknowledgement")  # type: ignore[index]
    assert build(auto_submitted=False)["Auto-Submitted"] is None  # type: ignore[index]


def test_html_alternative_escapes_staff_and_customer_text() -> None:
    msg = build("rejected", context={"reason": '<script>alert(1)</script> & "x"'})
    html = msg.get_body(("html",)).get_content()  # type: ignore[attr-defined]
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = msg.get_body(("plain",)).get_content()  # type: ignore[attr-defined]
    assert '<script>alert(1)</script> & "x"' in text


def test_urls_become_links_in_html() -> None:
    html = build("concern_ack").get_body(("html",)).get_content()  # type: ignore[attr-defined]
    assert '<a href="https://autoriteitpersoonsgegevens.nl/">' in html


def test_attachments_are_attached() -> None:
    files = [
        Attachment("data.json", "application/json", b'{"name": "x"}'),
        Attachment("../report.html", "text/html", b"<html></html>"),
    ]
    msg = build("access_package", attachments=files)
    names = [part.get_filename() for part in msg.iter_attachments()]  # type: ignore[attr-defined]
    assert names == ["data.json", ".._report.html"]


@pytest.mark.parametrize(
    "kw",
    [
        {"to": "alice@customer.example\r\nBcc: evil@attacker.example"},
        {"to": "Alice <alice@customer.example>"},
        {"to": "alice@customer.example, evil@attacker.example"},
        {"from_addr": "privacy@shop.example\nBcc: x@y.example"},
        {"case_ref": "DSR-1\r\nBcc: x@y.example"},
        {"case_ref": "12"},
        {"message_id": "<a@b>\r\nBcc: x@y.example"},
        {"message_id": "no-brackets@shop.example"},
    ],
    ids=[
        "to-crlf",
        "to-display-name",
        "to-list",
        "from-lf",
        "ref-crlf",
        "ref-form",
        "mid-crlf",
        "mid-form",
    ],
)
def test_header_injection_in_arguments_is_refused(kw: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        build(**kw)


def test_unknown_template() -> None:
    with pytest.raises(TemplateError, match="known: acknowledgement"):
        render("nope", lang="en", context={})


async def test_hostile_customer_message_cannot_inject_headers_into_the_reply(
    smtp_server: SmtpServer,
) -> None:
    """A customer's subject, display name and ids full of CR/LF, answered through real SMTP."""
    hostile = (
        b"From: =?utf-8?q?Eve=0D=0ABcc=3A_leak=40attacker.example?= <eve@customer.example>\r\n"
        b"To: privacy@shop.example\r\n"
        b"Subject: =?utf-8?q?Delete_me=0D=0ABcc=3A_leak2=40attacker.example?=\r\n"
        b"Message-ID: <hostile-1@customer.example>\r\n"
        b"References: <x@customer.example>\r\n"
        b" =?utf-8?q?=0D=0ABcc=3A_leak3=40attacker.example?=\r\n"
        b"\r\nPlease delete my data.\r\n"
    )
    inbound = parse_message(hostile, trusted_authserv_id=None, max_bytes=100_000)
    assert inbound.from_addr is not None
    mid = make_message_id(12, 5, DOMAIN)
    reply = compose(
        MailSpec(
            "acknowledgement",
            lang="en",
            context=CONTEXT["acknowledgement"],
            to=inbound.from_addr,
            from_addr="privacy@shop.example",
            from_name=f"Privacy team for {inbound.from_name}",  # customer text in a display name
            case_ref="DSR-12",
            message_id=mid,
            in_reply_to=inbound.message_id,
            references=inbound.references,
        )
    )
    await SmtpSender(smtp_server.host, smtp_server.port, tls="none", timeout=5).send(reply)
    [got] = smtp_server.handler.received
    assert got.rcpt_tos == ("eve@customer.example",)
    assert (
        b"attacker.example"
        not in got.data.split(b"\r\n\r\n")[0].replace(b"=?utf-8?", b"")[:0] + b""
    )
    arrived = BytesParser(policy=policy.default).parsebytes(got.data)
    assert arrived.get_all("Bcc") is None
    names = [k.lower() for k in arrived]
    assert names.count("to") == 1 and "cc" not in names and "bcc" not in names
    assert arrived["To"] == "eve@customer.example"
    for key, value in arrived.items():
        assert "\r" not in str(value) and "\n" not in str(value), key
    head = got.data.split(b"\r\n\r\n")[0]
    assert not re.search(rb"^(bcc|cc):", head, re.IGNORECASE | re.MULTILINE)
    # and the reply is recognisable as ours if it ever comes back
    back = parse_message(got.data, trusted_authserv_id=None, max_bytes=1_000_000)
    assert detect_robot(back, own_domain=DOMAIN, own_addresses=frozenset()) is RobotKind.OWN_MAIL
    assert referenced_case(back, own_domain=DOMAIN) == 12


#: What each language's challenge must say: the refusal word and "nothing will happen".
AT_STAKE = {
    "en": ("Someone asked us to delete your account", "reply NO", "nothing will happen"),
    "nl": ("uw account en uw persoonsgegevens te verwijderen", "antwoord dan NEE", "gebeurt niets"),
    "de": ("Ihr Konto und Ihre personenbezogenen Daten zu löschen", "NEIN", "geschieht nichts"),
    "fr": ("supprimer votre compte", "répondez NON", "rien ne se passera"),
    "es": ("eliminemos su cuenta", "responda NO", "no ocurrirá nada"),
    "sv": ("radera ditt konto och dina personuppgifter", "svara NEJ", "ingenting kommer att hända"),
    "it": ("eliminare il suo account", "risponda NO", "non succederà nulla"),
    "pt": ("eliminássemos a sua conta", "responda NÃO", "nada acontecerá"),
    "ro": ("să ștergem contul dumneavoastră", "răspundeți NU", "nu se va întâmpla nimic"),
    "pl": ("usunięcie Pana/Pani konta", "odpowiedzieć NIE", "nic się nie stanie"),
    "ru": ("удалить вашу учётную запись", "ответьте НЕТ", "ничего не произойдёт"),
    "cs": ("smazání vašeho účtu", "odpovězte NE", "nic se nestane"),
    "hr": ("brisanje vašeg korisničkog računa", "odgovorite NE", "ništa se neće dogoditi"),
    "el": ("να διαγράψουμε τον λογαριασμό σας", "απαντήστε ΟΧΙ", "δεν θα συμβεί τίποτα"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_challenge_says_what_is_at_stake_in_every_language(lang: str) -> None:
    context = {"case_ref": "DSR-1", **CONTEXT["challenge"]}
    text = render("challenge", lang=lang, context=context).text
    for words in AT_STAKE[lang]:
        assert words in text, (lang, words)
    assert "K7Q2-M9XD" in text and "eve@evil.example" in text  # the code, and who asked
    assert "alice@customer.example" in text  # the change of address names both addresses
    assert "2026" in text and "24" in text  # when it was asked
    mine = render("challenge", lang=lang, context={**context, "requester": None}).text
    assert "eve@evil.example" in mine.split("K7Q2-M9XD")[0]  # only as the new address
    new = render(
        "challenge_new_address",
        lang=lang,
        context={"case_ref": "DSR-1", **CONTEXT["challenge_new_address"]},
    ).text
    assert "K7Q2-M9XD" in new and "@" not in new  # names no account and nobody who asked


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_check_mail_names_a_refusal_word_the_desk_understands(lang: str) -> None:
    _, reply_no, nothing = AT_STAKE[lang]
    word = reply_no.split()[-1]
    assert stance(word) is Stance.REFUSAL, (lang, word)
    for template in ("challenge", "challenge_new_address", "verification_failed"):
        context = {"case_ref": "DSR-1", **CONTEXT[template]}
        text = render(template, lang=lang, context=context).text
        assert reply_no in text and nothing in text, (lang, template)
        if template != "verification_failed":
            assert "K7Q2-M9XD" in text and "10:00 UTC" in text, (lang, template)  # valid until
