"""Change extraction measured on tests/data/change_requests.jsonl (14 languages x 5 fields x 3
phrasings, written for this measurement): prints the per-language table for README.

    .venv/bin/python tests/bench/bench_changes.py [--misses]

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
FIELDS = ("name", "email", "phone", "address", "company")


def _norm(field: str, value: str) -> str:
    if field == "phone":
        return re.sub(r"\D", "", value)
    return " ".join(value.split()).casefold()


def correct(text: str, lang: str, expect: list[list[str]]) -> tuple[bool, list[tuple[str, str]]]:
    """Whether extraction found exactly the expected pairs; and what it found."""
    got = list(extract(text, lang).changes)
    want = {(f, _norm(f, v)) for f, v in expect}
    return {(f, _norm(f, v)) for f, v in got} == want, got


def measure() -> tuple[dict[str, dict[str, list[bool]]], list[str]]:
    """Results per language and field, and the misses described."""
    table: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    misses = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        ok, got = correct(row["text"], row["lang"], row["expect"])
        table[row["lang"]][row["field"]].append(ok)
        if not ok:
            misses.append(f"{row['lang']} {row['field']}/{row['phrasing']}: {row['text']!r} -> {got}")
    return table, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--misses", action="store_true", help="List what was not extracted.")
    args = parser.parse_args()
    table, misses = measure()
    print("| language | " + " | ".join(FIELDS) + " | all |")
    print("|---|" + "---|" * (len(FIELDS) + 1))
    total = hits = 0
    for lang, fields in table.items():
        cells = [f"{sum(fields[f])}/{len(fields[f])}" for f in FIELDS]
        n = sum(len(v) for v in fields.values())
        k = sum(sum(v) for v in fields.values())
        total, hits = total + n, hits + k
        print(f"| {lang} | " + " | ".join(cells) + f" | {k / n:.0%} |")
    print(f"| **all** | | | | | | **{hits}/{total} = {hits / total:.1%}** |")
    if args.misses:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
