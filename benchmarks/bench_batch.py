"""Batch scoring through the CLI: throughput with 1 and 2 workers, and peak memory.

Run on demand: ``python benchmarks/bench_batch.py [--listings 100000]``. Writes a JSONL
input of about-80-word multilingual listings to a temporary folder, runs
``cites-guard score --workers N`` on it as a user would, and reports the median rate of a
few runs and the parent's and children's peak RSS (from ``/usr/bin/time``-like rusage).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring import make_listings

CLI = str(Path(sys.executable).parent / "cites-guard")
RUSAGE = """
import resource, subprocess, sys, json
status = subprocess.call(sys.argv[1:])
me = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"status": status, "max_rss_mb_any_process": me}))
"""


def run(input_path: Path, workers: int) -> dict[str, float]:
    out = input_path.with_suffix(f".out{workers}.jsonl")
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RUSAGE,
            CLI,
            "score",
            str(input_path),
            "-o",
            str(out),
            "--workers",
            str(workers),
            "-q",
            "--batch-size",
            "128",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - start
    info = json.loads(result.stdout.strip().splitlines()[-1])
    lines = sum(1 for _ in out.open(encoding="utf-8"))
    return {"seconds": elapsed, "rate": lines / elapsed, "rss_mb": info["max_rss_mb_any_process"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "listings.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for row in make_listings(args.listings):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        figures: dict[str, object] = {"listings": args.listings}
        for workers in (1, 2):
            runs = [run(source, workers) for _ in range(args.repeats)]
            figures[f"workers_{workers}_per_s"] = round(statistics.median(r["rate"] for r in runs))
            figures[f"workers_{workers}_max_rss_mb"] = round(max(r["rss_mb"] for r in runs), 1)
        figures["speedup_2_vs_1"] = round(
            figures["workers_2_per_s"] / figures["workers_1_per_s"],
            2,  # type: ignore[operator]
        )
        out1 = source.with_suffix(".out1.jsonl").read_bytes()
        out2 = source.with_suffix(".out2.jsonl").read_bytes()
        figures["outputs_identical"] = out1 == out2
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
