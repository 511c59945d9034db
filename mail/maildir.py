"""The embedded default: outgoing mail into a local outbox Maildir, incoming mail from a Maildir.

Uses the stdlib `mailbox.Maildir` (atomic tmp/ → new/ delivery). Blocking file I/O runs in a
worker thread. Processed messages move from new/ to cur/ with the S flag; unusable ones move
to the `.Quarantine` folder with the F flag. Nothing is ever deleted.
"""

from __future__ import annotations

import asyncio
import logging
import mailbox
from email.message import EmailMessage
from pathlib import Path

from mail.errors import MailSendError
from mail.intake import Fetched, Handler, Outcome

log = logging.getLogger(__name__)

QUARANTINE_FOLDER = "Quarantine"


class MaildirSender:
    """A `Sender` that writes each message into a Maildir instead of sending it.

    Used when no SMTP relay is configured; the log says so once, at construction.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._box = mailbox.Maildir(self.path, create=True)
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
        self._box = mailbox.Maildir(self.path, create=True)

    async def run(self, handler: Handler) -> None:
        """Hand every message in new/ to `handler`, then file it by the outcome; runs forever.

        A handler exception propagates and leaves the message in new/ for the next run.
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
            src.rename(self.path / "cur" / f"{key}:2,S")

    def _quarantine_path(self) -> Path:
        folder = self.path / f".{QUARANTINE_FOLDER}"
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return folder
