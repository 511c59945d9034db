"""After an end-to-end run on the real stack (Dovecot, the embedded SMTP receiver and Maildir,
aiosmtpd outbound, SQLite and PostgreSQL), neither the logs — every logger at DEBUG — nor any
file the desk wrote under var/ hold the customers' names, addresses, phone numbers, codes or
message text, in clear, base64 or quoted-printable.

The case database itself is covered by the encryption work (its own grep); the reference
customer store (`customers.db`) is the company's data, not the desk's, and is skipped.
"""

from __future__ import annotations

import io
import json
import logging
import re
import stat
import tempfile
from collections.abc import Iterator, Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from bot.case.lifecycle import CaseState
from bot.cli import logs
from bot.work import actions
from bot.work.anchor import anchor_now
from bot.work.mailbox import recorder
from intents.classify import IntentModel
from mail.intake import Fetched, Outcome
from mail.maildir import MaildirIntake
from mail.receiver import SmtpReceiver
from storage import audit
from tests.agent_harness import CUSTOMERS, Harness, harness, letter, plain_text
from tests.leaks import find_leaks, needles
from tests.servers.dovecot import DovecotServer
from tests.servers.slack import SlackRig
from tests.servers.smtp import SmtpServer

ALICE, BOB, CAROL = "alice@example.org", "bob@example.net", "carol@nowhere.example"
LETTERS = {
    ALICE: "Under the GDPR please send me a copy of all the personal data you hold about me.",
    BOB: "Please delete my account and erase all of my personal data. Kind regards, Bob Builder",
    CAROL: "Please delete my account and all of my data, my number is +44 20 7946 0958.",
}
CODE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")


@pytest.fixture
def every_logger_at_debug() -> Iterator[io.StringIO]:
    """The product's logging at DEBUG, and every other logger there is at DEBUG too (only the
    libraries `bot.cli.logs` caps stay capped: that cap is the product's own decision)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {n: logging.getLogger(n).level for n in list(logging.root.manager.loggerDict)}
    out = io.StringIO()
    logs.configure(logging.DEBUG, json=True, stream=out)
    for name in list(logging.root.manager.loggerDict):
        if not any(name == q or name.startswith(q + ".") for q in logs.QUIET):
            logging.getLogger(name).setLevel(logging.DEBUG)
    yield out
    root.handlers[:] = handlers
    root.setLevel(level)
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(levels.get(name, logging.NOTSET))


def _code(h: Harness, address: str) -> tuple[str, EmailMessage]:
    challenge = h.sent_to(address, "challenge")[-1]
    found = CODE.search(plain_text(challenge))
    assert found, plain_text(challenge)
    return found.group(0), challenge


class EmbeddedIntake:
    """The embedded default's path: loopback SMTP receiver into var/maildir, read by the desk."""

    def __init__(self, h: Harness, maildir: Path) -> None:
        self.h, self.receiver, self.intake = (
            h,
            SmtpReceiver(maildir, port=0),
            MaildirIntake(maildir),
        )
        self.record = recorder(h.desk)

    async def one(self, fetched: Fetched) -> Outcome:
        [outcome] = await self.record([fetched])
        return outcome

    async def send(self, sender: str, raw: bytes) -> None:
        msg = message_from_bytes(raw, policy=policy.default)
        await aiosmtplib.send(
            msg,
            sender=sender,
            recipients=["privacy@example.com"],
            port=self.receiver.port,
            hostname="127.0.0.1",
        )
        assert await self.intake.process_pending(self.one) == 1
        await self.h.settle()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.name.startswith("customers.db")]


def _leaks_in(files: Sequence[Path], values: list[bytes]) -> dict[str, list[bytes]]:
    found = {str(p): find_leaks(p.read_bytes(), values) for p in files}
    return {p: hits for p, hits in found.items() if hits}


async def test_no_customer_value_in_logs_or_files(
    case_store_url: str,
    dovecot: DovecotServer,
    smtp_server: SmtpServer,
    intent_model: IntentModel,
    every_logger_at_debug: io.StringIO,
) -> None:
    var = Path(tempfile.mkdtemp(prefix="dsr-var-"))
    codes: list[str] = []
    async with harness(
        case_store_url,
        dovecot,
        smtp_server,
        intent_model,
        var,
        audit_head_file=var / "audit-heads.jsonl",
    ) as h:
        # Alice asks over IMAP for her data, types her code, staff approve, the package goes.
        await h.receive(letter(ALICE, "My data", LETTERS[ALICE]))
        code, challenge = _code(h, ALICE)
        codes.append(code)
        await h.receive(
            letter(
                ALICE,
                f"Re: {challenge['Subject']}",
                f"Yes. {code}",
                in_reply_to=str(challenge["Message-ID"]),
            )
        )
        # Bob asks through the embedded receiver to be erased; Carol, unknown, the same.
        embedded = EmbeddedIntake(h, var / "maildir")
        await embedded.receiver.start()
        try:
            await embedded.send(BOB, letter(BOB, "Erase me", LETTERS[BOB]))
            code, challenge = _code(h, BOB)
            codes.append(code)
            await embedded.send(
                BOB,
                letter(
                    BOB,
                    f"Re: {challenge['Subject']}",
                    f"Confirmed: {code}",
                    in_reply_to=str(challenge["Message-ID"]),
                ),
            )
            await embedded.send(CAROL, letter(CAROL, "Delete", LETTERS[CAROL]))
        finally:
            await embedded.receiver.close()
        for case in await h.cases():
            if case.state == CaseState.AWAITING_APPROVAL:
                await actions.approve(h.desk, case.reference, "cli:dpo")
        await h.settle()
        states = sorted(str(c.state) for c in await h.cases())
        assert states == ["awaiting_verification", "done", "done"], states
        assert await anchor_now(h.desk) is not None
        assert (await audit.verify(h.desk.engine)).ok

    values = [str(v) for c in CUSTOMERS for k, v in c.items() if k != "newsletter"]
    values += [ALICE, BOB, CAROL, *LETTERS.values(), *codes]
    values += ["+44 20 7946 0958", "Bob Builder"]
    wanted = needles(values)

    log_text = every_logger_at_debug.getvalue()
    assert "DSR-1" in log_text and len(log_text.splitlines()) >= 10  # it did log
    assert find_leaks(log_text.encode(), wanted) == []

    files = _files(var)
    names = {p.name for p in files}
    assert "audit-heads.jsonl" in names, names
    assert _leaks_in(files, wanted) == {}
    # processed mail and delivered packages are gone; what is left is the desk's only
    assert not list((var / "maildir" / "new").iterdir())
    assert not list((var / "maildir" / "cur").iterdir())
    assert not (var / "packages").exists() or not any((var / "packages").iterdir())
    for folder in [var / "maildir", *(var / "maildir").iterdir()]:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


async def test_no_customer_value_in_logs_of_the_slack_side(
    every_logger_at_debug: io.StringIO, slack_rig: SlackRig
) -> None:
    """Cards, buttons, a modal with staff's free text, signed requests through bolt and the Web
    API fake: slack_sdk and slack_bolt log bodies at DEBUG, which must never reach the log."""
    ref = await slack_rig.staff_case(["delete"], address=ALICE)
    assert await slack_rig.send_outbox() == 1
    reason = {"value": {"type": "plain_text_input", "value": "Called Alice Liddell back"}}
    await slack_rig.click("UAPP1", "verify_manually", ref)
    await slack_rig.submit("UAPP1", "verify_submit", ref, {"reason": reason})
    await slack_rig.fake.wait_for("chat.postEphemeral")
    await slack_rig.send_outbox()
    card = json.dumps(slack_rig.fake.named("chat.postMessage")[0].params["blocks"])
    assert ALICE in card  # staff see the requester on the card; the log never does
    log_text = every_logger_at_debug.getvalue()
    assert ref in log_text
    alice = CUSTOMERS[0]
    wanted = needles([ALICE, str(alice["name"]), str(alice["phone"]), "Called Alice Liddell back"])
    assert find_leaks(log_text.encode(), wanted) == []
