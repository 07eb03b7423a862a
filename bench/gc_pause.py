"""What the deduplication feature caches add to a full garbage collection, with every cache at capacity.

    .venv/bin/python bench/gc_pause.py [--texts 16384] [--runs 5]

A full (generation 2) collection walks every object the cyclic collector tracks, and it runs in whichever request
happens to allocate past its threshold: what the long-lived caches hold is paid as a pause there. This fills the
caches of app.dedup.features and app.dedup.text (word vectors, character vectors, term counts) with distinct
signal texts, as a long-running process would, and times gc.collect() (CPU, median of --runs) against the
baseline measured first in the same process: a full collection with the caches empty. Also prints the tracked
objects and the time to featurise one text. Compare commits by running it from each checkout.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.dedup import features, text  # noqa: E402
from app.dedup.corpus import Corpus  # noqa: E402
from app.dedup.records import SignalText  # noqa: E402
from bench.ingest import body  # noqa: E402


def full_collection_ms(runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        gc.collect()
        times.append((time.process_time() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=16384, help="distinct texts (16,384: the largest cache's size)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples = [body(i) for i in range(args.texts)]
    corpus = Corpus()
    corpus.add_all(text.vocabulary(str(s["title"]), str(s["body"])) for s in samples[:5000])
    gc.collect()
    empty_objects = len(gc.get_objects())
    empty = full_collection_ms(args.runs)
    now = datetime.now(UTC)
    t0 = time.process_time()
    for i, s in enumerate(samples):
        signal = SignalText(
            str(i), "someone@ourco.se", str(s["kind"]), str(s["title"]), str(s["body"]), now, "bench", None
        )
        features.vectors(corpus, signal)
        features.char_vector(corpus, signal)
    featurise_us = (time.process_time() - t0) * 1e6 / len(samples)
    gc.collect()
    full = full_collection_ms(args.runs)
    print(f"load average {__import__('os').getloadavg()[0]:.2f}")
    print(f"caches empty: {empty_objects:7d} tracked objects, full collection {empty:6.1f} ms CPU (baseline)")
    print(
        f"caches full:  {len(gc.get_objects()):7d} tracked objects, full collection {full:6.1f} ms CPU "
        f"({full / max(empty, 0.1):.1f} x the baseline; the caches add {full - empty:.1f} ms)"
    )
    print(f"featurising one text (words and characters, cache miss): {featurise_us:.0f} us CPU")


if __name__ == "__main__":
    main()
