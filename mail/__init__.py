"""Mail for the privacy desk: intake (IMAP, Maildir, a loopback SMTP receiver), parsing, robot
detection, threading, reply composition and sending. Never imports `bot`, `intents` or `storage`.
"""

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
