"""`dsr run` as a real process: refuses an unmigrated store, serves /healthz, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.servers.postgres import free_port


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DSR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dsr.db'}",
        "DSR_CUSTOMER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'customers.db'}",
        "DSR_MAILDIR": str(tmp_path / "maildir"),
        "DSR_OUTBOX_MAILDIR": str(tmp_path / "outbox"),
        "DSR_HTTP_PORT": str(port),
        "DSR_SMTP_RECEIVER_PORT": "0",
    }


def _dsr(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def test_run_refuses_an_unmigrated_store(tmp_path: Path) -> None:
    result = subprocess.run(
        _dsr("run"),
        env=_env(tmp_path, free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "dsr db upgrade" in result.stderr


def test_run_serves_health_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, port)
    for step in (("db", "upgrade"), ("store", "init")):
        subprocess.run(_dsr(*step), env=env, check=True, capture_output=True, cwd=tmp_path)
    proc = subprocess.Popen(
        _dsr("run"),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline, body = time.monotonic() + 60, b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.1)
        assert json.loads(body)["ok"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
