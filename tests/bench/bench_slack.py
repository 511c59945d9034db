"""Slack figures on loopback, against the fake Web API and a SQLite case store:
card render (facts from both stores + Block Kit), outbox posting of cards, and signed
interactions (HTTP ack, and click -> action done -> ephemeral answer).

    .venv/bin/python tests/bench/bench_slack.py [--cases 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DSR_SECRET_KEY", "bench-secret-key-0123456789abcdef-0123456789")

from bot.slack.cards import case_card
from bot.slack.facts import card_facts
from intents.classify import load_model
from storage.migrate import upgrade_async
from tests.servers.slack import FakeSlack, build_rig, close_rig


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"


async def main(cases: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-slack-"))
    url = f"sqlite+aiosqlite:///{tmp / 'dsr.db'}"
    await upgrade_async(url)
    fake = FakeSlack()
    await fake.start()
    rig = await build_rig(url, fake, load_model(), tmp)
    try:
        refs = [await rig.staff_case(["delete"]) for _ in range(cases)]
        print(f"{cases} cases awaiting verification (delete), SQLite, fake Slack on loopback")

        renders = []
        for ref in refs:
            start = time.perf_counter()
            _, facts = await card_facts(rig.desk, ref)
            case_card(facts)
            renders.append(time.perf_counter() - start)
        print(f"card render (facts + erasure preview + blocks): {_ms(renders)}")

        start = time.perf_counter()
        sent = 0
        while (n := await rig.send_outbox()) > 0:
            sent += n
        took = time.perf_counter() - start
        print(f"outbox: {sent} cards posted in {took:.2f} s ({sent / took:.0f}/s)")

        acks, done = [], []
        for i, ref in enumerate(refs):
            start = time.perf_counter()
            assert await rig.click("UAPP1", "verify_manually", ref) == 200
            acks.append(time.perf_counter() - start)
            await fake.wait_for("views.open", i + 1)
            reason = {"value": {"type": "plain_text_input", "value": "called back on file"}}
            start = time.perf_counter()
            assert await rig.submit("UAPP1", "verify_submit", ref, {"reason": reason}) == 200
            await fake.wait_for("chat.postEphemeral", i + 1)
            done.append(time.perf_counter() - start)
        print(f"signed click -> HTTP ack: {_ms(acks)}")
        print(f"signed modal submit -> verified, audited, answered: {_ms(done)}")
    finally:
        await close_rig(rig)
        await fake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200)
    asyncio.run(main(parser.parse_args().cases))
