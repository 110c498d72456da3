"""Speed and memory of scoring: start-up, single-listing latency, throughput, peak RSS.

Run on demand (not in CI): ``python benchmarks/bench_scoring.py [--listings N] [--json]``.
Inputs are the project's example listings, lengthened to about 80 words each, mixed across
18 languages. Every timing is the median of several repeats; the machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from cites_guard import Guard, Listing
from cites_guard.batch import assess_parallel_json
from cites_guard.model import model_text
from cites_guard.normalize import normalize

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "listings.jsonl"


def make_listings(count: int, words: int = 80) -> list[dict[str, object]]:
    """``count`` listings of about ``words`` words, cycling through the examples."""
    base = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    out = []
    for i in range(count):
        row = dict(base[i % len(base)])
        description = str(row.get("description") or "")
        text = description
        # About `words` words, or the same length in characters (about six a word) for
        # scripts that do not separate words with spaces.
        while (
            len(f"{row['title']} {text}".split()) < words
            and len(f"{row['title']} {text}") < words * 6
            and description
        ):
            text = f"{text} {description}"
        row["description"] = text
        row["id"] = f"bench-{i}"
        out.append(row)
    return out


def _spin(loops: int) -> int:
    """Pure-Python arithmetic: the same work whatever code cites-guard has."""
    total = 0
    for value in range(loops):
        total += value * value
    return total


def _machine_scaling(loops: int = 20_000_000, repeats: int = 3) -> float:
    """How much faster two processes do twice :func:`_spin`'s work than one does it once.

    A figure about the machine, not about cites-guard, read once after the throughput
    runs: on a shared virtual machine the two cores are not always two cores' worth (seen
    here from 1.3 to 2.0 in one day). It bounds what CPU-bound Python work gains from a
    second process at the time it is read, which is context for the two-worker figure,
    not a reading taken during it.
    """
    context = multiprocessing.get_context("spawn")
    alone, together = [], []
    with context.Pool(2) as pool:
        pool.map(_spin, [1, 1])
        for _ in range(repeats):
            start = time.perf_counter()
            pool.map(_spin, [loops])
            alone.append(time.perf_counter() - start)
            start = time.perf_counter()
            pool.map(_spin, [loops, loops], chunksize=1)
            together.append(time.perf_counter() - start)
    return 2 * statistics.median(alone) / statistics.median(together)


def _startup() -> float:
    code = (
        "import time; t = time.perf_counter(); from cites_guard import Guard; "
        "Guard.default(); print(time.perf_counter() - t)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip())


def _rss_of_run(count: int, workers: int) -> dict[str, float]:
    """Peak RSS (MB) of a fresh process scoring ``count`` listings, and of its largest worker.

    Read from each process's own ``VmHWM`` in ``/proc``: ``ru_maxrss`` of a child starts at
    its parent's peak (Linux carries it across fork and exec), so it would report the
    benchmark's own footprint. Workers are read while they run, near the end of the input.
    """
    code = f"""
import json, os, sys, time
sys.path.insert(0, {str(REPO / "benchmarks")!r})
from bench_scoring import make_listings
from cites_guard import Guard, Listing
from cites_guard.batch import assess_parallel_json

def high_water(pid):
    with open(f"/proc/{{pid}}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0

def children_high_water():
    peak = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{{entry}}/status") as status:
                parent = next(l for l in status if l.startswith("PPid:")).split()[1]
            if int(parent) == os.getpid():
                peak = max(peak, high_water(entry))
        except (OSError, StopIteration):
            continue
    return peak

rows = [Listing.model_validate(r) for r in make_listings({count})]
t = time.perf_counter()
child = 0.0
if {workers} == 1:
    n = sum(1 for _ in Guard.default().assess_many(rows))
else:
    n = 0
    for _ in assess_parallel_json(rows, workers={workers}, batch_size=128):
        n += 1
        if n == max(1, {count} * 9 // 10):  # near the end, while the workers still run
            child = children_high_water()
elapsed = time.perf_counter() - t
figures = {{"n": n, "seconds": elapsed, "rss_mb": high_water("self"), "child_rss_mb": child}}
print(json.dumps(figures))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rows = [Listing.model_validate(r) for r in make_listings(args.listings)]
    words = statistics.mean(
        len(f"{r.title} {r.description}".split()) for r in rows[: len(rows) // 10 or 1]
    )
    figures: dict[str, object] = {"listings": len(rows), "mean_words": round(words, 1)}

    figures["startup_seconds_median"] = round(
        statistics.median(_startup() for _ in range(args.repeats)), 3
    )

    guard = Guard.default()
    sample = rows[:2000]
    latencies = []
    for listing in sample:
        start = time.perf_counter()
        guard.assess(listing)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    figures["single_ms_p50"] = round(latencies[len(latencies) // 2], 3)
    figures["single_ms_p99"] = round(latencies[int(len(latencies) * 0.99)], 3)

    def rate(run: object) -> float:
        start = time.perf_counter()
        count = sum(1 for _ in run)  # type: ignore[attr-defined]
        return count / (time.perf_counter() - start)

    def warm_rate(run: Iterator[str]) -> float:
        next(run)  # the workers are up and their models loaded
        start = time.perf_counter()
        count = sum(1 for _ in run)
        return count / (time.perf_counter() - start)

    one = [rate(guard.assess_many(rows, batch_size=64)) for _ in range(args.repeats)]
    figures["throughput_1_process_per_s"] = round(statistics.median(one))
    two = [rate(assess_parallel_json(rows, workers=2, batch_size=128)) for _ in range(args.repeats)]
    figures["throughput_2_workers_per_s"] = round(statistics.median(two))
    figures["speedup_2_vs_1"] = round(statistics.median(two) / statistics.median(one), 2)
    figures["machine_two_process_scaling"] = round(_machine_scaling(), 2)
    # The same, timed from the first result on: a long-running scorer pays for starting its
    # workers (spawn, model load: see startup_seconds_median) once, not per listing.
    warm = [warm_rate(assess_parallel_json(rows, workers=2, batch_size=128)) for _ in range(3)]
    figures["throughput_2_workers_warm_per_s"] = round(statistics.median(warm))

    # The floor: tokenizers' encode_batch alone on the same (normalised) texts.
    tokenizer = guard.scorer._tokenizer  # type: ignore[attr-defined]  # noqa: SLF001
    texts = [model_text({f: normalize(t) for f, t in listing.text_fields()}) for listing in rows]
    encode = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for i in range(0, len(texts), 64):
            tokenizer.encode_batch(texts[i : i + 64])
        encode.append(len(texts) / (time.perf_counter() - start))
    figures["tokenizers_encode_batch_per_s"] = round(statistics.median(encode))
    figures["end_to_end_over_encode_ratio"] = round(
        statistics.median(one) / statistics.median(encode), 3
    )

    figures["rss_1_process"] = _rss_of_run(min(args.listings, 20000), 1)
    figures["rss_2_workers"] = _rss_of_run(min(args.listings, 20000), 2)
    figures["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:34} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
