"""Tests for mail.robots: every kind of machine mail is flagged, and people are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from mail.parse import parse_message
from mail.robots import RobotKind, detect_robot

DATA = Path(__file__).parent / "data"
OWN = frozenset({"privacy@shop.example", "dsr-bot@shop.example"})


def kind_of(raw: bytes) -> RobotKind | None:
    msg = parse_message(raw, trusted_authserv_id=None, max_bytes=1_000_000)
    return detect_robot(msg, own_domain="shop.example", own_addresses=OWN)


def headers(*lines: str, body: str = "Please delete my data.") -> bytes:
    base = ["From: Alice <alice@customer.example>", "To: privacy@shop.example"]
    if not any(line.lower().startswith("subject:") for line in lines):
        base.append("Subject: My data")
    return ("\r\n".join([*base, *lines]) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mail_ooo_reply.eml", RobotKind.AUTO_REPLY),
        ("mail_bounce_dsn.eml", RobotKind.BOUNCE),
        ("mail_list.eml", RobotKind.LIST),
        ("mail_bulk.eml", RobotKind.BULK),
        ("mail_reply_quoted.eml", None),
        ("mail_html_only.eml", None),
        ("mail_attachment.eml", None),
        ("mail_mislabelled_charset.eml", None),
    ],
    ids=lambda v: str(v),
)
def test_samples(name: str, expected: RobotKind | None) -> None:
    assert kind_of((DATA / name).read_bytes()) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["Auto-Submitted: auto-replied"], RobotKind.AUTO_REPLY),
        (["Auto-Submitted: auto-generated"], RobotKind.AUTO_GENERATED),
        (["Auto-Submitted: auto-notified"], RobotKind.AUTO_GENERATED),
        (["Auto-Submitted: no"], None),
        (["X-Autoreply: yes"], RobotKind.AUTO_REPLY),
        (["X-Autorespond: yes"], RobotKind.AUTO_REPLY),
        (["Subject: Out of Office: My data"], RobotKind.AUTO_REPLY),
        (["Subject: Abwesenheitsnotiz: Ihre Anfrage"], RobotKind.AUTO_REPLY),
        (["Subject: Réponse automatique : votre demande"], RobotKind.AUTO_REPLY),
        (["Subject: Respuesta automática: su solicitud"], RobotKind.AUTO_REPLY),
        (["Subject: Automatische reactie: uw verzoek"], RobotKind.AUTO_REPLY),
        (
            ["Content-Type: multipart/report; report-type=disposition-notification; boundary=x"],
            RobotKind.AUTO_REPLY,
        ),
        (["X-Failed-Recipients: gone@customer.example"], RobotKind.BOUNCE),
        (["Return-Path: <>", "Subject: Mail delivery failed: returning message"], RobotKind.BOUNCE),
        (["Return-Path: <>"], RobotKind.AUTO_GENERATED),
        (["Precedence: list"], RobotKind.LIST),
        (["List-Id: <x.lists.example>"], RobotKind.LIST),
        (["List-Post: <mailto:x@lists.example>"], RobotKind.LIST),
        (["Precedence: bulk"], RobotKind.BULK),
        (["Precedence: junk"], RobotKind.BULK),
        (["List-Unsubscribe: <mailto:u@news.example>"], RobotKind.BULK),
        (["Message-ID: <DSR-3.8.abcdef@shop.example>"], RobotKind.OWN_MAIL),
        (["Message-ID: <DSR-3.8.abcdef@other.example>"], None),
        (["X-DSR-Case: DSR-3"], RobotKind.OWN_MAIL),
        (["Subject: I wrote about an automatic reply I got"], None),
        (["Return-Path: <alice@customer.example>"], None),
    ],
    ids=lambda v: "|".join(v) if isinstance(v, list) else str(v),
)
def test_header_signals(lines: list[str], expected: RobotKind | None) -> None:
    assert kind_of(headers(*lines)) == expected


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("MAILER-DAEMON@mx.example", RobotKind.BOUNCE),
        ("postmaster@mx.example", RobotKind.BOUNCE),
        ("owner-privacy@lists.example", RobotKind.LIST),
        ("privacy-request@lists.example", RobotKind.LIST),
        ("noreply@service.example", RobotKind.NO_REPLY),
        ("do-not-reply@service.example", RobotKind.NO_REPLY),
        ("PRIVACY@shop.example", RobotKind.OWN_MAIL),
        ("dsr-bot@shop.example", RobotKind.OWN_MAIL),
        ("norah@customer.example", None),
        ("replyguy@customer.example", None),
    ],
    ids=lambda v: str(v),
)
def test_sender_addresses(sender: str, expected: RobotKind | None) -> None:
    raw = f"From: {sender}\r\nTo: privacy@shop.example\r\nSubject: x\r\n\r\nhello\r\n".encode()
    assert kind_of(raw) == expected
