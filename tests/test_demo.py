"""`dsr demo` runs the whole desk on the embedded default and ends with an intact audit log."""

from __future__ import annotations

import os
import re
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
    ends = dict(re.findall(r"^   (DSR-\d+)\s+\S+\s+(\w+)\s+due", out, re.MULTILINE))
    assert ends == {
        "DSR-1": "done",  # see
        "DSR-2": "done",  # delete
        "DSR-3": "done",  # change
        "DSR-4": "done",  # unsubscribe
        "DSR-5": "awaiting_approval",  # concern, acknowledged, with the privacy team
        "DSR-6": "awaiting_verification",  # the impostor's request: nobody confirms it
        "DSR-7": "needs_triage",  # not a data-subject request
    }, out
    assert "personal-data.json" in out
    # the customers verified by typing their code, as the challenge asks
    assert len(re.findall(r"with the code [A-Z2-9]{4}-[A-Z2-9]{4}", out)) == 3, out
    # the impostor got exactly one mail, the acknowledgement
    assert out.count("to mallory@evil.example") == 1
