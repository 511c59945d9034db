"""Mail for the privacy desk: intake (IMAP, Maildir, a loopback SMTP receiver), parsing, robot
detection, threading, reply composition and sending. Never imports `bot`, `intents` or `storage`.

Names are imported on first use, so a command that needs `mail.threading` does not load
the IMAP, SMTP and template machinery.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mail.body import AttachmentInfo
    from mail.compose import TEMPLATES, Attachment, MailSpec, Rendered, compose, render
    from mail.errors import (
        MailConnectionError,
        MailError,
        MailParseError,
        MailSendError,
        TemplateError,
    )
    from mail.headers import AuthVerdicts
    from mail.i18n import LANGUAGES, pick_language
    from mail.imap import ImapConfig, ImapIntake
    from mail.intake import (
        BatchHandler,
        Fetched,
        Handler,
        InMemoryUidState,
        Outcome,
        UidStateStore,
        one_by_one,
    )
    from mail.maildir import MaildirIntake, MaildirSender
    from mail.parse import ParsedMessage, parse_message
    from mail.receiver import SmtpReceiver
    from mail.retry import MAX_SEND_ATTEMPTS, backoff, retry_delay, should_retry
    from mail.robots import RobotKind, detect_robot
    from mail.sender import Sender
    from mail.smtp import SmtpSender
    from mail.threading import (
        CaseReference,
        OurMessageId,
        case_reference,
        case_tag,
        make_message_id,
        parse_our_message_id,
        referenced_case,
    )

#: Where each public name lives; imported on first use (PEP 562).
_WHERE = {
    "AttachmentInfo": "mail.body",
    "TEMPLATES": "mail.compose",
    "Attachment": "mail.compose",
    "MailSpec": "mail.compose",
    "Rendered": "mail.compose",
    "compose": "mail.compose",
    "render": "mail.compose",
    "MailConnectionError": "mail.errors",
    "MailError": "mail.errors",
    "MailParseError": "mail.errors",
    "MailSendError": "mail.errors",
    "TemplateError": "mail.errors",
    "AuthVerdicts": "mail.headers",
    "LANGUAGES": "mail.i18n",
    "pick_language": "mail.i18n",
    "ImapConfig": "mail.imap",
    "ImapIntake": "mail.imap",
    "BatchHandler": "mail.intake",
    "Fetched": "mail.intake",
    "Handler": "mail.intake",
    "InMemoryUidState": "mail.intake",
    "Outcome": "mail.intake",
    "UidStateStore": "mail.intake",
    "one_by_one": "mail.intake",
    "MaildirIntake": "mail.maildir",
    "MaildirSender": "mail.maildir",
    "ParsedMessage": "mail.parse",
    "parse_message": "mail.parse",
    "SmtpReceiver": "mail.receiver",
    "MAX_SEND_ATTEMPTS": "mail.retry",
    "backoff": "mail.retry",
    "retry_delay": "mail.retry",
    "should_retry": "mail.retry",
    "RobotKind": "mail.robots",
    "detect_robot": "mail.robots",
    "Sender": "mail.sender",
    "SmtpSender": "mail.smtp",
    "CaseReference": "mail.threading",
    "OurMessageId": "mail.threading",
    "case_reference": "mail.threading",
    "case_tag": "mail.threading",
    "make_message_id": "mail.threading",
    "parse_our_message_id": "mail.threading",
    "referenced_case": "mail.threading",
}

__all__ = [
    "LANGUAGES",
    "MAX_SEND_ATTEMPTS",
    "TEMPLATES",
    "Attachment",
    "AttachmentInfo",
    "AuthVerdicts",
    "BatchHandler",
    "CaseReference",
    "Fetched",
    "Handler",
    "ImapConfig",
    "ImapIntake",
    "InMemoryUidState",
    "MailConnectionError",
    "MailError",
    "MailParseError",
    "MailSendError",
    "MailSpec",
    "MaildirIntake",
    "MaildirSender",
    "OurMessageId",
    "Outcome",
    "ParsedMessage",
    "Rendered",
    "RobotKind",
    "Sender",
    "SmtpReceiver",
    "SmtpSender",
    "TemplateError",
    "UidStateStore",
    "backoff",
    "case_reference",
    "case_tag",
    "compose",
    "detect_robot",
    "make_message_id",
    "one_by_one",
    "parse_message",
    "parse_our_message_id",
    "pick_language",
    "referenced_case",
    "render",
    "retry_delay",
    "should_retry",
]


#: Public functions named like the module that holds them (`classify` in `.classify`): importing
#: that module sets the package attribute to the module; the package keeps the function instead,
#: as the eager imports this file once had did.
_SHADOWED = frozenset(n for n, m in _WHERE.items() if m.rsplit(".", 1)[1] == n)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
