"""Tests for mail.maildir and mail.receiver: the embedded intake, end to end over SMTP."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from mail.intake import Fetched, Outcome
from mail.maildir import MaildirIntake, MaildirSender, remove_messages
from mail.receiver import SmtpReceiver


@pytest.fixture
def tmpdir_path() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dsr-maildir-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def message(n: int, sender: str = "alice@customer.example") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "privacy@shop.example"
    msg["Subject"] = f"request {n}"
    msg["Message-ID"] = f"<m{n}@customer.example>"
    msg.set_content(f"body {n}")
    return msg


async def test_maildir_sender_writes_new_files(
    tmpdir_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sender = MaildirSender(tmpdir_path / "outbox")
    assert "no SMTP relay configured" in caplog.text
    await sender.send(message(1))
    files = list((tmpdir_path / "outbox" / "new").iterdir())
    assert len(files) == 1
    assert b"Message-ID: <m1@customer.example>" in files[0].read_bytes()
    assert "alice@customer.example" not in caplog.text  # ids only in logs


async def test_receiver_to_intake_end_to_end(tmpdir_path: Path) -> None:
    box = tmpdir_path / "inbox"
    receiver = SmtpReceiver(box, port=0)
    await receiver.start()
    try:
        for n in range(3):
            await aiosmtplib.send(message(n), hostname="127.0.0.1", port=receiver.port)
        await aiosmtplib.send(
            message(9, sender="bounce@x.example"),
            sender="",
            recipients=["privacy@shop.example"],
            hostname="127.0.0.1",
            port=receiver.port,
        )
    finally:
        await receiver.close()

    seen: list[Fetched] = []

    async def handler(item: Fetched) -> Outcome:
        seen.append(item)
        return Outcome.QUARANTINE if b"body 1" in item.raw else Outcome.PROCESSED

    intake = MaildirIntake(box)
    assert await intake.process_pending(handler) == 4
    assert await intake.process_pending(handler) == 0  # filed, not handed out twice
    assert len(seen) == 4
    assert all(f.source.startswith("maildir:") and f.uid is None for f in seen)
    assert seen[0].raw.startswith(b"Return-Path: <alice@customer.example>\r\n")
    assert any(f.raw.startswith(b"Return-Path: <>\r\n") for f in seen)
    # processed mail is the case store's from now on: no copy left on disk
    assert list((box / "cur").iterdir()) == [] and list((box / "new").iterdir()) == []
    quarantined = list((box / ".Quarantine" / "cur").iterdir())
    assert len(quarantined) == 1 and quarantined[0].name.endswith(":2,F")
    assert b"body 1" in quarantined[0].read_bytes()


async def test_everything_written_is_private(tmpdir_path: Path) -> None:
    """Folders 0700 and messages 0600 even under a loose umask (any local user could read 0644)."""
    old = os.umask(0o022)
    try:
        await MaildirSender(tmpdir_path / "outbox").send(message(1))
        receiver = SmtpReceiver(tmpdir_path / "inbox", port=0)
        await receiver.start()
        try:
            await aiosmtplib.send(message(2), hostname="127.0.0.1", port=receiver.port)
        finally:
            await receiver.close()

        async def quarantine(item: Fetched) -> Outcome:
            return Outcome.QUARANTINE

        await MaildirIntake(tmpdir_path / "inbox").process_pending(quarantine)
    finally:
        os.umask(old)
    files, folders = _modes(tmpdir_path)
    assert len(files) == 2 and len(folders) >= 10
    assert set(files.values()) == {0o600}
    assert set(folders.values()) == {0o700}


def _modes(root: Path) -> tuple[dict[Path, int], dict[Path, int]]:
    """Every file's and every folder's permission bits under `root`."""
    found = {p: stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}
    return {p: m for p, m in found.items() if p.is_file()}, {
        p: m for p, m in found.items() if p.is_dir()
    }


async def test_handler_error_leaves_message_in_new(tmpdir_path: Path) -> None:
    sender = MaildirSender(tmpdir_path / "in")
    await sender.send(message(1))

    async def failing(item: Fetched) -> Outcome:
        raise RuntimeError("database down")

    intake = MaildirIntake(tmpdir_path / "in")
    with pytest.raises(RuntimeError):
        await intake.process_pending(failing)
    assert len(list((tmpdir_path / "in" / "new").iterdir())) == 1


async def test_receiver_refuses_oversize_and_non_loopback(tmpdir_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        SmtpReceiver(tmpdir_path, host="0.0.0.0")
    receiver = SmtpReceiver(tmpdir_path / "small", port=0, max_bytes=2_000)
    await receiver.start()
    try:
        big = message(1)
        big.set_content("x" * 10_000)
        with pytest.raises(aiosmtplib.SMTPResponseException) as err:
            await aiosmtplib.send(big, hostname="127.0.0.1", port=receiver.port)
        assert err.value.code == 552
    finally:
        await receiver.close()
    assert list((tmpdir_path / "small" / "new").iterdir()) == []


async def test_remove_messages_by_message_id(tmpdir_path: Path) -> None:
    sender = MaildirSender(tmpdir_path / "outbox")
    for n in range(3):
        await sender.send(message(n))
    assert remove_messages(tmpdir_path / "outbox", ["<m1@customer.example>", "<x@y.example>"]) == 1
    left = sorted(p.read_bytes() for p in (tmpdir_path / "outbox" / "new").iterdir())
    assert len(left) == 2 and not any(b"<m1@customer.example>" in raw for raw in left)
    assert remove_messages(tmpdir_path / "nowhere", ["<m0@customer.example>"]) == 0
