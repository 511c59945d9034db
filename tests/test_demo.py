"""`dsr demo` runs the whole desk on the embedded default and ends with an intact audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSR_")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--directory", str(tmp_path / "demo")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dsr audit verify: intact" in out
    for line in (
        "DSR-1  see             done",
        "DSR-2  delete          done",
        "DSR-3  change          done",
        "DSR-4  unsubscribe     done",
        "DSR-6  see             awaiting_verification",
    ):
        assert line in out, line
    assert "personal-data.json" in out
    # the impostor got exactly one mail, the acknowledgement
    assert out.count("to mallory@evil.example") == 1
