"""Component probes for `/healthz`: can the desk reach its IMAP and SMTP servers (a TCP connect,
no login: cheap, and no password sent every few seconds), and is the local outbox writable."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.settings import Settings

Probe = Callable[[], Awaitable[tuple[bool, str]]]


def tcp_probe(host: str, port: int) -> Probe:
    """Healthy when a TCP connection to host:port opens."""

    async def probe() -> tuple[bool, str]:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            return False, f"cannot connect ({exc.__class__.__name__})"
        writer.close()
        await writer.wait_closed()
        return True, "reachable"

    return probe


def directory_probe(path: Path) -> Probe:
    """Healthy when the directory exists (or can be made) and is writable."""

    def check() -> tuple[bool, str]:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False, "cannot create the directory"
        return (True, "writable") if os.access(path, os.W_OK) else (False, "not writable")

    async def probe() -> tuple[bool, str]:
        return await asyncio.to_thread(check)

    return probe


def mail_probes(settings: Settings) -> dict[str, Probe]:
    """`imap` (when configured; else the Maildir) and `smtp` (else the outbox Maildir)."""
    probes: dict[str, Probe] = {}
    if settings.imap_host:
        probes["imap"] = tcp_probe(settings.imap_host, settings.imap_port_effective)
    else:
        probes["imap"] = directory_probe(settings.maildir)
    if settings.smtp_host:
        probes["smtp"] = tcp_probe(settings.smtp_host, settings.smtp_port_effective)
    else:
        probes["smtp"] = directory_probe(settings.outbox_maildir)
    return probes
