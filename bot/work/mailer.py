"""Sending outbox mail: compose the templated message from the row and hand it to a `Sender`
(SMTP, or the local outbox Maildir when no SMTP server is configured).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings
from bot.work.outbox import Dispatch, TransientSendError
from mail.compose import Attachment, compose
from mail.errors import MailSendError
from mail.maildir import MaildirSender
from mail.sender import Sender
from mail.smtp import SmtpSender
from storage.models import Outbox, reference_of

log = logging.getLogger(__name__)

_DATES = frozenset({"due_date", "new_due_date", "asked_on"})
_DATETIMES = frozenset({"expires_at"})


def template_context(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Outbox payloads are JSON; give templates real dates back. Pure."""
    out = dict(raw)
    for key in _DATES & out.keys():
        out[key] = date.fromisoformat(str(out[key]))
    for key in _DATETIMES & out.keys():
        out[key] = datetime.fromisoformat(str(out[key]))
    return out


def _attachment(path: str) -> Attachment:
    file = Path(path)
    ctype = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return Attachment(filename=file.name, content_type=ctype, data=file.read_bytes())


def build_sender(settings: Settings) -> Sender:
    """SMTP when `DSR_SMTP_HOST` is set; otherwise the local outbox Maildir (which logs so)."""
    if settings.smtp_host:
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port_effective,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            tls=settings.smtp_tls,
        )
    log.warning(
        "no DSR_SMTP_HOST: outgoing mail is written to the Maildir %s, not sent",
        settings.outbox_maildir,
    )
    return MaildirSender(settings.outbox_maildir)


def mail_dispatch(settings: Settings, sender: Sender) -> Dispatch:
    """The outbox dispatcher for `kind == "mail"`."""

    async def send(row: Outbox) -> None:
        payload = row.payload
        if row.message_id is None or row.case_id is None:
            raise ValueError(f"outbox row {row.id} has no Message-ID or case; cannot send")
        msg = compose(
            row.template,
            lang=str(payload.get("lang") or "en"),
            context=template_context(payload.get("context", {})),
            to=str(payload["to"]),
            from_addr=settings.privacy_address,
            from_name="Privacy team",
            case_ref=reference_of(row.case_id),
            message_id=row.message_id,
            in_reply_to=payload.get("in_reply_to"),
            references=payload.get("references", []),
            auto_submitted=bool(payload.get("auto_submitted", True)),
            attachments=[_attachment(p) for p in payload.get("attachments", [])],
        )
        try:
            await sender.send(msg)
        except MailSendError as exc:
            if exc.transient:
                raise TransientSendError(str(exc)) from exc
            raise

    return send
