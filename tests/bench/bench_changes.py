"""Change extraction measured per language and field; prints the table for README.

    .venv/bin/python tests/bench/bench_changes.py [--misses] [--data FILE]

Two sets, both written for this measurement: tests/data/change_requests.jsonl (14 languages x 5
fields x 3 phrasings; the extractor was developed against it) and
tests/data/change_requests_heldout.jsonl (written afterwards, other phrasings and values, plus two
messages per language that mention fields but ask for no change: column "none").

An example counts when the extracted (field, value) pairs are exactly the expected ones (phone
numbers compared by digits, other values without case or surrounding spaces).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from intents.extract import extract  # noqa: E402

DATA = ROOT / "tests" / "data" / "change_requests.jsonl"
HELDOUT = ROOT / "tests" / "data" / "change_requests_heldout.jsonl"
FIELDS = ("name", "email", "phone", "address", "company", "none")


def _norm(field: str, value: str) -> str:
    if field == "phone":
        return re.sub(r"\D", "", value)
    return " ".join(value.split()).casefold().rstrip(".")


def correct(text: str, lang: str, expect: list[list[str]]) -> tuple[bool, list[tuple[str, str]]]:
    """Whether extraction found exactly the expected pairs; and what it found."""
    got = list(extract(text, lang).changes)
    want = {(f, _norm(f, v)) for f, v in expect}
    return {(f, _norm(f, v)) for f, v in got} == want, got


def measure(data: Path = DATA) -> tuple[dict[str, dict[str, list[bool]]], list[str]]:
    """Results per language and field, and the misses described."""
    table: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    misses = []
    for line in data.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        ok, got = correct(row["text"], row["lang"], row["expect"])
        table[row["lang"]][row["field"]].append(ok)
        if not ok:
            misses.append(
                f"{row['lang']} {row['field']}/{row['phrasing']}: {row['text']!r} -> {got}"
            )
    return table, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="List what was not extracted.")
    parser.add_argument("--data", type=Path, default=DATA, help="A JSONL set (default: the first).")
    args = parser.parse_args()
    table, misses = measure(args.data)
    fields_seen = [f for f in FIELDS if any(f in row for row in table.values())]
    print("| language | " + " | ".join(fields_seen) + " | all |")
    print("|---|" + "---|" * (len(fields_seen) + 1))
    total = hits = 0
    for lang, fields in table.items():
        cells = [f"{sum(fields[f])}/{len(fields[f])}" for f in fields_seen]
        n = sum(len(v) for v in fields.values())
        k = sum(sum(v) for v in fields.values())
        total, hits = total + n, hits + k
        print(f"| {lang} | " + " | ".join(cells) + f" | {k / n:.0%} |")
    blanks = " |" * len(fields_seen)
    print(f"| **all** |{blanks} **{hits}/{total} = {hits / total:.1%}** |")
    if args.misses:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
