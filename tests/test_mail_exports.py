"""Pins the public API of the mail package, and its layering (no bot/intents/storage imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import mail

EXPECTED = {
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
}


def test_public_api() -> None:
    assert set(mail.__all__) == EXPECTED
    for name in mail.__all__:
        assert hasattr(mail, name), name


def test_error_tree() -> None:
    assert issubclass(mail.MailParseError, mail.MailError) and issubclass(
        mail.MailParseError, ValueError
    )
    assert issubclass(mail.MailSendError, OSError)
    assert issubclass(mail.MailConnectionError, ConnectionError)
    assert mail.MailSendError("x", transient=True).transient is True


def test_mail_imports_no_other_package_of_ours() -> None:
    for path in Path(mail.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in {"bot", "intents", "storage"}, (path.name, name)


def test_senders_satisfy_the_protocol(tmp_path: Path) -> None:
    senders: list[mail.Sender] = [
        mail.SmtpSender("127.0.0.1", 25, tls="none"),
        mail.MaildirSender(tmp_path / "outbox"),
    ]
    assert all(callable(s.send) for s in senders)
