"""The deployment files: the Procfile's web process reads $PORT and binds beyond loopback, the
Dockerfile is slim, non-root and health-checked, and the systemd unit passes
`systemd-analyze verify` (where systemd exists) with the install path pointed at this venv."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_procfile_runs_the_web_process_on_the_platforms_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert lines["release"].strip() == "dsr db upgrade"
    assert re.fullmatch(
        r"DSR_HTTP_HOST=\$\{DSR_HTTP_HOST:-0\.0\.0\.0\} dsr run", lines["web"].strip()
    )
    monkeypatch.delenv("DSR_HTTP_PORT", raising=False)
    monkeypatch.setenv("PORT", "5123")
    assert load_settings().http_port == 5123
    monkeypatch.setenv("DSR_HTTP_PORT", "8081")  # an explicit setting wins
    assert load_settings().http_port == 8081


def test_dockerfile_is_slim_non_root_and_health_checked() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert 'exec dsr run"]' in text  # SIGTERM reaches the desk, not a shell
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text()
    assert "!bot/" in ignore and "!storage/" in ignore


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd here")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    dsr = Path(sys.executable).with_name("dsr")
    unit = (ROOT / "deploy" / "dsr.service").read_text()
    assert "/opt/dsr-bot/.venv/bin/dsr" in unit
    local = unit.replace("/opt/dsr-bot/.venv/bin/dsr", str(dsr)).replace(
        "EnvironmentFile=/etc/", "EnvironmentFile=-/etc/"
    )
    (tmp_path / "dsr.service").write_text(local)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "dsr.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "dsr.service" not in result.stderr, result.stderr  # no warnings about the unit
