"""Chain heads kept outside the database: the head file the desk appends to, and heads copied
from the anchoring mails or Slack posts (one `SEQ:HASH` a line) that `dsr audit verify` reads.

A head-file line is JSON `{"seq", "hash", "ts", "mac"}`; `mac` is HMAC-SHA-256 with the audit key
over `seq:hash:ts`, so an edited line shows. A line holding `SEQ:HASH` (as in the mails) is also
read, without a MAC; other text lines (a saved mail's headers) are skipped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from storage.audit import Anchor

_TEXT_LINE = re.compile(r"\b(\d+):([0-9a-f]{64})\b")


@dataclass(frozen=True)
class HeadFile:
    """What a head file holds: the anchors read, and lines that could not be trusted."""

    anchors: list[Anchor]
    problems: list[str]


def _mac(key: bytes, seq: int, digest: str, ts: str) -> str:
    return hmac.new(key, f"{seq}:{digest}:{ts}".encode(), hashlib.sha256).hexdigest()


def head_line(key: bytes | None, seq: int, digest: str, ts: str) -> str:
    """One head-file line (JSON, with a MAC when there is a key)."""
    row: dict[str, object] = {"seq": seq, "hash": digest, "ts": ts}
    if key is not None:
        row["mac"] = _mac(key, seq, digest, ts)
    return json.dumps(row, sort_keys=True)


def append_head(path: Path, key: bytes | None, seq: int, digest: str, ts: str) -> None:
    """Append one head to the file (created with its directory if missing) and fsync it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(head_line(key, seq, digest, ts) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_heads(path: Path, key: bytes | None) -> HeadFile:
    """Every anchor in `path` (a missing file holds none).

    A JSON line whose MAC does not match (or that has none while a key is set) is a problem, not
    an anchor: someone edited it, or it was written with another key.
    """
    anchors: list[Anchor] = []
    problems: list[str] = []
    if not path.exists():
        return HeadFile(anchors, problems)
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        source = f"{path.name}:{number}"
        if line.startswith("{"):
            try:
                row = json.loads(line)
                seq, digest, ts = int(row["seq"]), str(row["hash"]), str(row["ts"])
            except (ValueError, KeyError, TypeError):
                problems.append(f"{source}: not a head line")
                continue
            if key is not None and not hmac.compare_digest(
                str(row.get("mac", "")), _mac(key, seq, digest, ts)
            ):
                problems.append(f"{source}: MAC does not match (edited, or another key)")
                continue
            anchors.append(Anchor(seq, digest, source, ts))
            continue
        found = _TEXT_LINE.search(line)
        if found is not None:  # other lines of a saved mail are skipped
            anchors.append(Anchor(int(found[1]), found[2], source))
    return HeadFile(anchors, problems)
