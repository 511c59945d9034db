"""The embedded default: outgoing mail into a local outbox Maildir, incoming mail from a Maildir.

Uses the stdlib `mailbox.Maildir` (atomic tmp/ → new/ delivery), private to the desk: every
folder 0700, every message 0600, whatever the umask. Blocking file I/O runs in a worker thread.
A processed message is removed once the handler returned (its record is committed in the case
store, which keeps it from then on); an unusable one moves to the `.Quarantine` folder with the
F flag and stays for a person.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
import os
from collections.abc import Collection
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from mail.errors import MailSendError
from mail.intake import Fetched, Handler, Outcome

log = logging.getLogger(__name__)

QUARANTINE_FOLDER = "Quarantine"
#: Modes of the desk's own folders and files: nobody else on the host reads the mail.
DIR_MODE, FILE_MODE = 0o700, 0o600


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700 (`mkdir(parents=True)` would give the
    parents the umask's mode), and make `path` 0700 if it already existed."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(folder, DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


class PrivateMaildir(mailbox.Maildir):
    """A `mailbox.Maildir` whose folders are 0700 and whose messages are written 0600.

    The stdlib creates message files 0666 minus the umask; a desk started with a loose umask
    (or a library that resets it) would leave customers' mail readable by any local user.
    """

    def __init__(self, path: str | Path, create: bool = True) -> None:
        root = Path(path)
        if create:
            for sub in ("tmp", "new", "cur"):
                private_dir(root / sub)
            os.chmod(root, DIR_MODE)
        super().__init__(root, factory=None, create=create)

    def _create_tmp(self) -> Any:
        handle = super()._create_tmp()  # type: ignore[misc]  # private in typeshed
        os.fchmod(handle.fileno(), FILE_MODE)
        return handle


def remove_messages(path: str | Path, message_ids: Collection[str]) -> int:
    """Delete the messages in a Maildir's new/ and cur/ whose Message-ID is one of
    `message_ids` (blocking; run it in a thread). Returns how many were deleted.

    The outbox Maildir stands in for the mail server when none is configured; a purged case's
    mails go from there too.
    """
    wanted = {m.strip() for m in message_ids}
    removed = 0
    for sub in ("new", "cur"):
        folder = Path(path) / sub
        if not folder.is_dir():
            continue
        for file in folder.iterdir():
            try:
                with file.open("rb") as handle:
                    head = BytesHeaderParser().parse(handle, headersonly=True)
            except (FileNotFoundError, IsADirectoryError):
                continue
            if str(head.get("Message-ID", "")).strip() in wanted:
                file.unlink(missing_ok=True)
                removed += 1
    return removed


class MaildirSender:
    """A `Sender` that writes each message into a Maildir instead of sending it.

    Used when no SMTP relay is configured; the log says so once, at construction.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._box = PrivateMaildir(self.path)
        log.warning("no SMTP relay configured: outgoing mail is written to Maildir %s", self.path)

    async def send(self, msg: EmailMessage) -> None:
        """Store `msg` in the outbox Maildir's new/ folder.

        Raises:
            MailSendError: the file could not be written (transient: the disk may recover).
        """
        mid = str(msg.get("Message-ID", "?"))
        try:
            key = await asyncio.to_thread(self._box.add, msg)
        except OSError as exc:
            raise MailSendError(
                f"{mid}: could not write to the outbox Maildir {self.path} ({exc}); "
                "check free space and permissions",
                transient=True,
            ) from exc
        log.info("mail written to outbox maildir message_id=%s key=%s", mid, key)


class MaildirIntake:
    """Reads new messages from a Maildir (e.g. the one `SmtpReceiver` delivers into).

    Args:
        path: the Maildir; created when missing.
        poll_interval: seconds between scans of new/.
    """

    def __init__(self, path: str | Path, *, poll_interval: float = 1.0) -> None:
        self.path = Path(path)
        self.poll_interval = poll_interval
        self._box = PrivateMaildir(self.path)

    async def run(self, handler: Handler) -> None:
        """Hand every message in new/ to `handler`, then file it by the outcome; runs forever.

        A handler exception propagates and leaves the message in new/ for the next run. A
        processed message is deleted (the handler returned only after its record committed).
        """
        while True:
            await self.process_pending(handler)
            await asyncio.sleep(self.poll_interval)

    async def process_pending(self, handler: Handler) -> int:
        """One pass over new/, oldest first.

        Returns:
            How many messages were handled.
        """
        names = await asyncio.to_thread(self._new_names)
        done = 0
        for name in names:
            try:
                raw = await asyncio.to_thread((self.path / "new" / name).read_bytes)
            except FileNotFoundError:
                continue  # taken by another reader in the meantime
            key = name.split(":")[0]
            outcome = await handler(Fetched(raw=raw, source=f"maildir:{key}"))
            await asyncio.to_thread(self._file, name, outcome)
            log.info("maildir message key=%s outcome=%s", key, outcome)
            done += 1
        return done

    def _new_names(self) -> list[str]:
        entries: list[tuple[float, str]] = []
        for p in (self.path / "new").iterdir():
            if p.name.startswith("."):
                continue
            try:
                entries.append((p.stat().st_mtime, p.name))
            except FileNotFoundError:
                continue
        return [name for _, name in sorted(entries)]

    def _file(self, name: str, outcome: Outcome) -> None:
        src = self.path / "new" / name
        key = name.split(":")[0]
        if outcome is Outcome.QUARANTINE:
            folder = self._quarantine_path()
            src.rename(folder / "cur" / f"{key}:2,F")
        else:
            # The case store holds the record now: no second copy of the customer's mail on disk.
            src.unlink(missing_ok=True)

    def _quarantine_path(self) -> Path:
        folder = self.path / f".{QUARANTINE_FOLDER}"
        for sub in ("tmp", "new", "cur"):
            private_dir(folder / sub)
        return folder
