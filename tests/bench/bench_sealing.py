"""What sealing costs per value: seal and open a case's working data, a 7 KB raw mail, and a
Message-ID's keyed hash (one core, no database).

    python tests/bench/bench_sealing.py [--number 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage.sealing import Keyring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=20_000)
    n = parser.parse_args().number
    keys = Keyring.from_secrets([], b"b" * 48)
    data = json.dumps(
        {
            "identifiers": ["alice@example.org", "+49 30 1234567"],
            "subject_line": "Please send me a copy of my personal data",
            "message_id": "<179641940782.8372.4551472147483355658@customer.example>",
            "changes": [["phone", "+49 30 7654321"]],
        }
    )
    raw = b"Received: from mx.example\r\n" * 250  # about 7 KB, a typical request mail
    text, blob = keys.seal_text(data, "dsr_case.data"), keys.seal_bytes(raw, "inbound_message.raw")
    cases = {
        "seal case data (JSON, 200 B)": lambda: keys.seal_text(data, "dsr_case.data"),
        "open case data": lambda: keys.open_text(text, "dsr_case.data"),
        "seal raw mail (7 KB)": lambda: keys.seal_bytes(raw, "inbound_message.raw"),
        "open raw mail": lambda: keys.open_bytes(blob, "inbound_message.raw"),
        "keyed hash of a Message-ID": lambda: keys.lookup_hash("<m.1@customer.example>"),
    }
    for name, fn in cases.items():
        best = min(timeit.repeat(fn, number=n, repeat=5)) / n
        print(f"{name}: {best * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
