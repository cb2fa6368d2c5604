"""Benchmark: the intent model's cost per message and per process.

Loads the shipped model (``understanding/data/model.npz``) in a fresh interpreter and
prints: the RSS the process gains by importing numpy and the runtime and loading the
weights; the load time; and per-message latency (p50, p99, max) of the decision the
handlers ask for (``understanding.decision.decide``), with the message caches cleared so
every message is scored from scratch. The messages are the corpus's test split, repeated.
Also checks that scikit-learn was never imported. Targets: p99 < 1 ms, < 30 MB.

    .venv/bin/python bench/intents.py            # --rounds 5, --cpu for CPU time
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import psutil


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="passes over the test split")
    parser.add_argument("--cpu", action="store_true", help="time CPU, not wall clock")
    args = parser.parse_args()

    process = psutil.Process(os.getpid())
    before = process.memory_info().rss
    started = time.perf_counter()
    from understanding.corpus import load
    from understanding.decision import decide
    from understanding.features import features
    from understanding.model import shipped_model
    from understanding.normalize import normalize

    model = shipped_model()
    loaded = time.perf_counter() - started
    after_load = process.memory_info().rss
    _, test = load()
    texts = [e.text for e in test]

    # On a shared machine wall time includes waiting for a core; --cpu counts only this
    # thread's CPU time, i.e. the cost of the work itself.
    clock = time.thread_time if args.cpu else time.perf_counter
    timings: list[float] = []
    for _ in range(args.rounds):
        for text in texts:
            model.guess.cache_clear()
            features.cache_clear()
            normalize.cache_clear()
            t0 = clock()
            decide(model, text)
            timings.append(clock() - t0)
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p99 = timings[int(len(timings) * 0.99) - 1] * 1000
    print(f"model: {len(model.labels)} labels, {len(model.index)} features")
    print(f"load: {loaded * 1000:.0f} ms (imports and weights)")
    print(f"RSS: +{(after_load - before) / 2**20:.1f} MB for numpy, the runtime and the weights")
    print(f"per message ({len(timings)} decisions, caches cleared, "
          f"{'CPU' if args.cpu else 'wall'} time): p50 {p50:.3f} ms, "
          f"p99 {p99:.3f} ms, max {timings[-1] * 1000:.3f} ms")  # fmt: skip
    print(f"scikit-learn imported: {'sklearn' in sys.modules}")


if __name__ == "__main__":
    main()
