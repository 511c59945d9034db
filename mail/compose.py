"""Replies from Jinja2 templates: plain text plus an HTML alternative, in the customer's language.

Everything that reaches a header is checked or flattened to one line here, so customer text can
never add a header. Pure apart from reading the packaged templates (cached) and the clock when
no `now` is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from mail.context import Retained, typed_context
from mail.errors import TemplateError
from mail.headers import message_ids, one_line
from mail.i18n import (
    FALLBACK,
    asked_text,
    field_name,
    intent_names,
    join_list,
    kept_data,
    long_date,
    long_datetime,
    pick_language,
)

TEMPLATES = (
    "acknowledgement",
    "challenge",
    "challenge_new_address",
    "rejected",
    "access_package",
    "change_done",
    "delete_done",
    "concern_ack",
    "unsubscribe_done",
    "expired",
    "processor_redirect",
    "extension",
    "not_found",
    "verification_failed",
    "objection_done",
    "restriction_done",
    "restriction_lifting",
    "representative_needed",
    "request_joined",
    "recipient_erasure",
    "recipient_rectification",
    "recipient_restriction",
    "processor_request",
)
_CASE_REF = re.compile(r"^DSR-\d{1,18}$")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered template: one-line subject, text body, HTML body, and the language used."""

    subject: str
    text: str
    html: str
    lang: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach: name shown to the customer, MIME type, content."""

    filename: str
    content_type: str
    data: bytes


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mail", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["linkify"] = _linkify
    return env


def _linkify(text: str) -> Markup:
    """Escape `text` and turn bare http(s) URLs into links (for the HTML alternative)."""
    escaped = str(escape(text))  # first escape everything; URLs matched after cannot hold < > "
    linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    return Markup(linked)  # noqa: S704 - built only from escaped text


def _defined(value: Any) -> Any:
    """Make a missing context value fail as UndefinedError before a helper sees it."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming the missing key
    return value


def _helpers(lang: str) -> dict[str, Any]:
    return {
        "lang": lang,
        "date": lambda d: long_date(_defined(d), lang),
        "datetime": lambda d: long_datetime(_defined(d), lang),
        "intents_text": lambda labels: intent_names(_defined(labels), lang),
        "asked": lambda asks: asked_text(_defined(asks), lang),
        "join": lambda items: join_list(_defined(items), lang),
        "field_names": lambda fields: join_list(
            (field_name(f, lang) for f in _defined(fields)), lang
        ),
        "kept": lambda item: _kept(_defined(item), lang),
    }


def _kept(item: Retained, lang: str) -> dict[str, str]:
    """One kept table for a letter: title and reason in `lang`, the end date written out."""
    what, why = kept_data(item.table, lang, item.what, item.why)
    return {"what": what, "why": why, "until": long_date(item.until, lang) if item.until else ""}


def render(template: str, *, lang: str, context: Mapping[str, object]) -> Rendered:
    """Render a template's subject, text and HTML; English when `lang` has no templates.

    Raises:
        TemplateError: unknown template, or the context misses a key the template uses.
    """
    if template not in TEMPLATES:
        raise TemplateError(f"no reply template {template!r}; known: {', '.join(TEMPLATES)}")
    lang = pick_language(lang)
    env = _environment()
    try:
        text_tmpl = env.get_template(f"{lang}/{template}.txt.j2")
    except jinja2.TemplateNotFound:
        lang = FALLBACK
        text_tmpl = env.get_template(f"{lang}/{template}.txt.j2")
    values = {**_helpers(lang), **typed_context(template, context)}
    try:
        ctx = text_tmpl.new_context(dict(values))
        subject = one_line("".join(text_tmpl.blocks["subject"](ctx)))
        text = text_tmpl.render(values).strip() + "\n"
        try:
            html_tmpl = env.get_template(f"{lang}/{template}.html.j2")
            html = html_tmpl.render(values)
        except jinja2.TemplateNotFound:
            html = env.get_template("_layout.html.j2").render(
                {**values, "subject": subject, "paragraphs": _paragraphs(text)}
            )
    except jinja2.UndefinedError as exc:
        raise TemplateError(
            f"template {lang}/{template} needs a context value that was not given: {exc.message}; "
            "see mail/templates/README.md for each template's keys"
        ) from exc
    except KeyError as exc:
        raise TemplateError(f"template {lang}/{template} has no subject block") from exc
    return Rendered(subject, text, html, lang)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _address(value: str, role: str) -> Address:
    """One addr-spec, refusing anything that could smuggle a header or a second address."""
    if not isinstance(value, str) or any(c in value for c in '\r\n\0<>,;"()') or " " in value:
        raise ValueError(f"{role} address is not a single plain addr-spec; pass only user@domain")
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain:
        raise ValueError(f"{role} address has no user@domain form")
    return Address(addr_spec=value)


@dataclass(frozen=True, slots=True)
class MailSpec:
    """What one reply says and to whom; `compose` turns it into a message.

    Attributes:
        template: one of `TEMPLATES`; keys it needs are listed in mail/templates/README.md.
        lang: the customer's language tag; English when we have no templates for it.
        context: template values; `case_ref` is added when missing.
        to, from_addr: plain addr-specs (no display names, no CR/LF).
        case_ref: `DSR-<n>`; the subject always starts with `[DSR-<n>]`.
        message_id: the outbox row's stable Message-ID (`make_message_id`).
        in_reply_to, references: the thread; malformed ids are dropped.
        auto_submitted: add `Auto-Submitted: auto-replied` (RFC 3834).
        attachments: files to attach (the access package).
        from_name: display name of the sender, e.g. "Privacy team" (flattened to one line).
    """

    template: str
    lang: str
    context: Mapping[str, object]
    to: str
    from_addr: str
    case_ref: str
    message_id: str
    in_reply_to: str | None = None
    references: Sequence[str] = ()
    auto_submitted: bool = True
    attachments: Sequence[Attachment] = ()
    from_name: str | None = None


def compose(spec: MailSpec, *, now: datetime | None = None) -> EmailMessage:
    """Build a reply ready for a `Sender`.

    Args:
        spec: the letter, its addresses and its thread.
        now: the Date header (default: the current time).

    Returns:
        A multipart message (text/plain with an HTML alternative, then attachments).

    Raises:
        ValueError: a malformed address, case reference or Message-ID.
        TemplateError: unknown template or missing context key.
    """
    own_id = _own_message_id(spec)
    rendered = render(
        spec.template, lang=spec.lang, context={"case_ref": spec.case_ref, **spec.context}
    )
    msg = EmailMessage(policy=policy.SMTP)
    _set_headers(msg, spec, subject=_subject(spec.case_ref, rendered), own_id=own_id, now=now)
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    _attach(msg, spec.attachments)
    msg["Content-Language"] = rendered.lang  # after set_content, which drops Content-* headers
    return msg


def _own_message_id(spec: MailSpec) -> str:
    """Check the case reference and return our Message-ID, refusing anything but one id."""
    if not _CASE_REF.match(spec.case_ref):
        raise ValueError(f"case reference {spec.case_ref!r} is not of the form DSR-<number>")
    own_id = message_ids(spec.message_id)
    if len(own_id) != 1 or own_id[0] != spec.message_id.strip():
        raise ValueError(f"Message-ID {spec.message_id!r} is not a single <id@domain>")
    return own_id[0]


def _subject(case_ref: str, rendered: Rendered) -> str:
    tag = f"[{case_ref}]"
    return rendered.subject if tag in rendered.subject else f"{tag} {rendered.subject}"


def _sender(spec: MailSpec) -> Address:
    sender = _address(spec.from_addr, "from")
    if spec.from_name:
        sender = Address(display_name=one_line(spec.from_name), addr_spec=sender.addr_spec)
    return sender


def _set_headers(
    msg: EmailMessage, spec: MailSpec, *, subject: str, own_id: str, now: datetime | None
) -> None:
    msg["From"] = _sender(spec)
    msg["To"] = _address(spec.to, "to")
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = own_id
    _set_thread(msg, spec.in_reply_to, spec.references)
    if spec.auto_submitted:
        msg["Auto-Submitted"] = "auto-replied"
    msg["X-DSR-Case"] = spec.case_ref  # lets robot detection recognise our own mail coming back
    msg["X-DSR-Template"] = spec.template  # which letter this is, for staff, tests and debugging


def _set_thread(msg: EmailMessage, in_reply_to: str | None, references: Sequence[str]) -> None:
    parent = message_ids(in_reply_to)[:1]
    if parent:
        msg["In-Reply-To"] = parent[0]
    chain = list(dict.fromkeys([*message_ids(" ".join(references)), *parent]))
    if chain:
        msg["References"] = " ".join(chain[-20:])  # keep the header bounded (RFC 5322 §3.6.4)


def _attach(msg: EmailMessage, attachments: Sequence[Attachment]) -> None:
    for att in attachments:
        maintype, _, subtype = att.content_type.partition("/")
        name = one_line(att.filename).replace("/", "_").replace("\\", "_") or "attachment"
        msg.add_attachment(
            att.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=name,
        )
