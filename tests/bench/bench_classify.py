"""Benchmark the intents model: size on disk, load time, throughput on one core, latency, peak RSS.

Run: .venv/bin/python tests/bench/bench_classify.py [--n 2000] [--model DIR] [--batch-size 128]
Messages are the project's corpus texts (every language and kind), cycled to --n, with the inner
letters of every word longer than three letters shuffled (a fresh shuffle per cycle): the model has
seen the corpus words in training (they are in its string store), and the first pass must pay for
words the process has never seen, as with real mail.
"""

import os

# One core, one thread: set before numpy/blis are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from intents.classify import MODEL_DIR, classify, classify_many, load_model  # noqa: E402
from intents.corpus import CORPUS_DIR, corpus_files, load_corpus  # noqa: E402

_WORD = re.compile(r"\w{4,}")


def unseen(text: str, rng: random.Random) -> str:
    """``text`` with the inner letters of each word of four or more letters shuffled."""

    def shuffle(match: re.Match[str]) -> str:
        word = match.group()
        inner = list(word[1:-1])
        rng.shuffle(inner)
        return word[0] + "".join(inner) + word[-1]

    return _WORD.sub(shuffle, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    size = sum(p.stat().st_size for p in args.model.rglob("*") if p.is_file())
    print(f"model on disk: {size / 2**20:.1f} MiB ({args.model})")

    # `dsr run` keeps the encoder's table in DSR_CACHE_DIR (written by its first load, then
    # mapped); without a cache folder it is unpacked into memory. Both, each in a fresh folder.
    for cache in (None, Path(tempfile.mkdtemp(prefix="dsr-bench-cache-"))):
        how = "table in memory" if cache is None else "table mapped from DSR_CACHE_DIR"
        loads, cpus = [], []
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            model = load_model(args.model, cache_dir=cache)
            loads.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        print(
            f"load_model, {how} (imports done): first {loads[0]:.3f} s, best {min(loads):.3f} s "
            f"(CPU of both loading threads: best {min(cpus):.3f} s)"
        )
        folder = "None" if cache is None else f"pathlib.Path({str(cache)!r})"
        load = (
            "import pathlib, intents\n"
            f"m = intents.load_model(pathlib.Path({str(args.model)!r}), cache_dir={folder})\n"
        )
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", load], check=True)
        print(f"fresh process, import + load, {how}: {time.perf_counter() - start:.3f} s")
        # Peak RSS of a process that loads the model and classifies 500 unseen messages (in
        # all the corpus' languages: with the table mapped, their pieces' pages are counted).
        code = (
            load + "from intents.corpus import load_corpus, corpus_files\n"
            "texts = [e.text for e in load_corpus(corpus_files())][:500]\n"
            "intents.classify_many(m, [t[::-1] for t in texts])\n"
            # VmHWM, not ru_maxrss: on Linux the latter keeps the forking parent's high-water mark.
            "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
            "print(int(hwm.split()[1]) // 1024)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        )
        print(f"peak RSS, load + classify 500 messages, {how}: {done.stdout.strip()} MiB")
        # The same in a process that has imported the desk (what `dsr run` holds besides it).
        desk = "import bot.cli.main, bot.app\n" + code
        done = subprocess.run(
            [sys.executable, "-c", desk], check=True, capture_output=True, text=True
        )
        peak = done.stdout.strip()
        print(f"peak RSS, the same with the desk's imports (dsr run), {how}: {peak} MiB")

    texts = [ex.text for ex in load_corpus(corpus_files(CORPUS_DIR))]
    rng = random.Random(0)
    batch = [unseen(texts[i % len(texts)], rng) for i in range(args.n)]
    mean_chars = statistics.mean(len(t) for t in batch)
    # CPU seconds of this process beside the wall clock: on a machine shared with other work
    # the wall clock measures the neighbours too; the CPU time is what one core spends.
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for label in ("first pass (unseen words)", "second pass (words seen)"):
        start, cpu = time.perf_counter(), time.process_time()
        classify_many(model, batch, batch_size=args.batch_size)
        elapsed, spent = time.perf_counter() - start, time.process_time() - cpu
        print(
            f"classify_many, {label}: {args.n} messages (mean {mean_chars:.0f} chars) in "
            f"{elapsed:.2f} s = {args.n / elapsed:,.0f} messages/s on one core; "
            f"{spent:.2f} CPU s = {args.n / spent:,.0f} messages per CPU second"
        )
    # The same texts as written: shuffled letters cut words into more subword tokens (132,000
    # instead of 101,000 for 1,000 corpus texts), and the encoder's cost is per token.
    written = [texts[i % len(texts)] for i in range(args.n)]
    start, cpu = time.perf_counter(), time.process_time()
    classify_many(model, written, batch_size=args.batch_size)
    elapsed, spent = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"classify_many, corpus texts as written: {args.n} messages in {elapsed:.2f} s = "
        f"{args.n / elapsed:,.0f} messages/s; {spent:.2f} CPU s = "
        f"{args.n / spent:,.0f} messages per CPU second"
    )
    latencies = []
    for text in batch[:1000]:
        start = time.perf_counter()
        classify(model, text)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    print(
        f"classify one at a time: p50 {latencies[len(latencies) // 2] * 1000:.2f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.2f} ms, "
        f"{len(latencies) / sum(latencies):,.0f} messages/s"
    )
    long_text = " ".join(texts)[:1_000_000]
    start = time.perf_counter()
    classify(model, long_text)
    print(f"one 1 MB message: {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
