"""This `dsr run` process as a desk instance: the id its claims carry, its heartbeat, and which
instances are still alive, so that a restarted desk takes over a dead predecessor's claimed cases
and outbox rows at once instead of waiting out their lease.

An instance is dead when its heartbeat is older than `dead_after`, when it ran on this host and
its process is gone, or, on PostgreSQL, when the session advisory lock it holds for its whole
life is free (PostgreSQL drops it with the dead process's connection). One lock per instance,
not per claim: it frees every claim of a dead session just the same, without taking and
releasing a lock for each row.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.case import store
from storage.db import session_factory
from storage.models import DeskInstance, utcnow

log = logging.getLogger(__name__)

#: Rows of instances silent for this long are removed (their claims stay takeable).
FORGET_AFTER = timedelta(hours=1)


def new_instance_id() -> str:
    """host:pid:random — unique even when a container restarts with the same host and pid."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def lock_key(instance_id: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key of an instance."""
    return int.from_bytes(hashlib.sha256(instance_id.encode()).digest()[:8], "big", signed=True)


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


@dataclass
class Instance:
    """One desk instance; `run` keeps it alive in the database until cancelled.

    Args:
        engine: the case store.
        heartbeat: seconds between heartbeats.
        dead_after: silence after which another instance counts as dead.
    """

    engine: AsyncEngine
    id: str = field(default_factory=new_instance_id)
    heartbeat: float = 2.0
    dead_after: float = 6.0
    _alive: tuple[float, frozenset[str]] | None = None
    _lock: AsyncConnection | None = None

    async def beat(self) -> None:
        """Register or refresh this instance (and take its advisory lock on PostgreSQL)."""
        if self.engine.dialect.name == "postgresql" and self._lock is None:
            conn = await self.engine.connect()
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(self.id)})
            await conn.commit()
            self._lock = conn
        row = DeskInstance(id=self.id, host=socket.gethostname()[:255], pid=os.getpid())
        async with session_factory(self.engine)() as session, session.begin():
            await store.beat(session, row)

    async def run(self) -> None:
        """Heartbeat until cancelled; then deregister, so its claims are taken over at once."""
        try:
            while True:
                await self.beat()
                await asyncio.sleep(self.heartbeat)
        finally:
            await asyncio.shield(self.close())

    async def close(self) -> None:
        """Deregister and drop the advisory lock (best effort, and quick: the store may be down
        or locked, and a row left behind is found dead anyway)."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._forget(), 2.0)
        if self._lock is not None:
            with contextlib.suppress(Exception):
                await self._lock.close()
            self._lock = None

    async def _forget(self) -> None:
        async with session_factory(self.engine)() as session, session.begin():
            await store.forget_instances(session, [self.id])

    async def alive(self) -> frozenset[str]:
        """The ids of the instances that may still hold their claims (cached for a second)."""
        loop = asyncio.get_running_loop()
        if self._alive is not None and loop.time() - self._alive[0] < 1.0:
            return self._alive[1]
        now = utcnow()
        async with session_factory(self.engine)() as session, session.begin():
            rows = await store.desk_instances(session)
            stale = [r.id for r in rows if now - r.heartbeat_at > FORGET_AFTER and r.id != self.id]
            await store.forget_instances(session, stale)
        held = await self._held_locks()
        here = socket.gethostname()[:255]
        alive = {self.id}
        for row in rows:
            if now - row.heartbeat_at > timedelta(seconds=self.dead_after):
                continue
            if row.host == here and _process_gone(row.pid):
                continue
            if held is not None and lock_key(row.id) not in held:
                continue
            alive.add(row.id)
        result = frozenset(alive)
        self._alive = (loop.time(), result)
        return result

    async def _held_locks(self) -> set[int] | None:
        """Advisory-lock keys held by live sessions (PostgreSQL), or None elsewhere."""
        if self.engine.dialect.name != "postgresql":
            return None
        sql = text(
            "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        )
        async with self.engine.connect() as conn:
            keys = (await conn.execute(sql)).scalars().all()
        return {k - (1 << 64) if k >= (1 << 63) else k for k in (int(v) for v in keys)}
