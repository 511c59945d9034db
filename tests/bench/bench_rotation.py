"""Issue 17: `dsr keys rotate` while `dsr run` works through N requests loses nothing.

The first half of the requests is answered by a desk sealing under an old key (DSR_DATA_KEY=OLD);
then the desk restarts with DSR_DATA_KEY=NEW,OLD and the second half arrives while
`dsr keys rotate --batch 100` runs again and again beside it (separate processes, as an operator
runs it). At the end: every request has its confirmation, every case opens with the new key alone
(the old one is gone from the keyring), nothing is left under the old key, and `dsr audit
verify` passes.

    python tests/bench/bench_rotation.py [--messages 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bot.case import store  # noqa: E402
from bot.case.data import case_data  # noqa: E402
from storage import rotation, sealing  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.bench.bench_agent import (  # noqa: E402
    Arrivals,
    _append,
    desk_env,
    seed_customers,
)
from tests.servers.dovecot import start_dovecot  # noqa: E402
from tests.servers.postgres import free_port  # noqa: E402

DSR = str(Path(sys.executable).with_name("dsr"))
OLD, NEW = "old-data-key-" + "o" * 40, "new-data-key-" + "n" * 40


def _desk(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(6)  # imports, model load, first IMAP session
    return proc


def _wait(arrivals: Arrivals, n: int, seconds: float = 900) -> None:
    deadline = time.monotonic() + seconds
    while len(arrivals.at) < n and time.monotonic() < deadline:
        time.sleep(0.2)


async def _check(db: str, secret: str) -> tuple[int, int, dict[str, int]]:
    """With the old key gone from the keyring: the cases and how many requests they answer (a
    repeat joins its open case), and the values left under the old key."""
    new_only = sealing.Keyring.from_secrets([NEW], secret.encode())
    engine = create_engine(db)
    token = sealing.use_keyring(new_only)
    try:
        left = await rotation.stale(engine, new_only)
        async with session_factory(engine)() as session:
            cases = await store.list_cases(session)
            requests = sum(1 + case_data(c).joined for c in cases if c.requester_address)
        return len(cases), requests, left

    finally:
        sealing.reset_keyring(token)
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    n, half = args.messages, args.messages // 2
    tmp = Path(tempfile.mkdtemp(prefix="dsr-bench-rotation-"))
    dovecot = start_dovecot()
    arrivals = Arrivals()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        db = f"sqlite+aiosqlite:///{tmp / 'dsr.db'}"
        customers = f"sqlite+aiosqlite:///{tmp / 'customers.db'}"
        upgrade(db)
        asyncio.run(seed_customers(customers, n))
        env = desk_env(db, customers, dovecot, smtp.port)
        secret = env["DSR_SECRET_KEY"]
        sent: dict[str, float] = {}

        desk = _desk({**env, "DSR_DATA_KEY": OLD}, tmp)
        asyncio.run(_append(dovecot.host, dovecot.port, "INBOX", half, None, sent))
        _wait(arrivals, half)
        desk.send_signal(signal.SIGTERM)
        desk.wait(timeout=60)
        print(f"phase 1 (DSR_DATA_KEY=OLD): {len(arrivals.at)}/{half} confirmations")

        rotating = {**env, "DSR_DATA_KEY": f"{NEW},{OLD}"}
        desk = _desk(rotating, tmp)
        passes: list[float] = []
        appending = threading.Event()
        appending.set()

        def rotate_beside() -> None:
            while True:
                t0 = time.monotonic()
                done = subprocess.run(
                    [DSR, "keys", "rotate", "--batch", "100"],
                    cwd=tmp,
                    env=rotating,
                    capture_output=True,
                    text=True,
                )
                if done.returncode:
                    raise SystemExit(f"dsr keys rotate failed: {done.stderr[-600:]}")
                passes.append(time.monotonic() - t0)
                if not appending.is_set():
                    return

        rotator = threading.Thread(target=rotate_beside)
        rotator.start()
        asyncio.run(_append(dovecot.host, dovecot.port, "INBOX", n - half, None, sent, half))
        _wait(arrivals, n)
        appending.clear()
        rotator.join()
        desk.send_signal(signal.SIGTERM)
        desk.wait(timeout=60)
        opened, requests, left = asyncio.run(_check(db, secret))
        verify = subprocess.run(
            [DSR, "audit", "verify"], cwd=tmp, env=env, capture_output=True, text=True
        )
        audit_ok = verify.returncode == 0
        answered = sum(1 for m in sent if m in arrivals.at)
        print(
            f"phase 2 (DSR_DATA_KEY=NEW,OLD, {len(passes)} `dsr keys rotate` passes beside the "
            f"desk, {sum(passes):.1f} s in all): {answered}/{n} confirmations in all"
        )
        print(
            f"{opened} cases answering {requests}/{n} requests opened with the new key alone; "
            "values left under the old key: "
            f"{sum(left.values())}; audit chain verifies: {audit_ok}"
        )
        if answered != n or requests != n or sum(left.values()) or not audit_ok:
            raise SystemExit("rotation during the run lost something")
    finally:
        smtp.stop()
        dovecot.destroy()


if __name__ == "__main__":
    main()
