"""Scoring throughput of this checkout against an earlier revision, side by side.

Run on demand (not in CI): ``python benchmarks/compare_versions.py REV [--listings N]``.
The machine is noisy, so absolute rates drift from hour to hour; this runs both versions
in alternation, in fresh processes, on the same listings (those of ``bench_scoring``), and
reports each one's rates and the ratio of the medians. Each version scores with its own
bundled model. REV is checked out into a temporary ``git worktree`` and imported from there.

It also says whether the two versions' assessments are the same, byte for byte as JSON, on
the benchmark listings and on each labelled file given with ``--outputs FILE.jsonl`` (the
development set, say): a change made for speed must not change a decision, a risk or a span.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

_MEASURE = """
import hashlib, json, statistics, sys, time
sys.path.insert(0, {benchmarks!r})
from bench_scoring import make_listings
import cites_guard
from cites_guard import Guard, Listing
rows = [Listing.model_validate(r) for r in make_listings({listings})]
guard = Guard.default()
list(guard.assess_many(rows[:500]))
rates = []
for _ in range(3):
    start = time.perf_counter()
    count = sum(1 for _ in guard.assess_many(rows, batch_size=64))
    rates.append(count / (time.perf_counter() - start))
digest = hashlib.sha256()
for assessment in guard.assess_many(rows):
    digest.update(assessment.model_dump_json().encode())
from cites_guard.dataset import read_labelled
for path in {outputs!r}:
    for record in read_labelled(path):
        digest.update(guard.assess(record.to_listing()).model_dump_json().encode())
print(json.dumps({{
    "module": cites_guard.__file__,
    "per_s": statistics.median(rates),
    "outputs_sha256": digest.hexdigest(),
}}))
"""


def _rate(source: Path, listings: int, outputs: list[str]) -> tuple[float, str]:
    """Median listings/s of ``Guard.assess_many`` with the package under ``source/src``,
    and the SHA-256 of its assessments (see the module docstring)."""
    env = {**os.environ, "PYTHONPATH": str(source / "src")}
    code = _MEASURE.format(benchmarks=str(REPO / "benchmarks"), listings=listings, outputs=outputs)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if not str(figures["module"]).startswith(str(source)):
        raise RuntimeError(f"imported {figures['module']}, not the code under {source}")
    return float(figures["per_s"]), str(figures["outputs_sha256"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("revision", help="git revision to compare with, e.g. a commit or tag")
    parser.add_argument("--listings", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two")
    parser.add_argument(
        "--outputs",
        action="append",
        default=[],
        metavar="FILE",
        help="labelled JSONL whose assessments must also match (repeatable)",
    )
    args = parser.parse_args()
    outputs = [str(Path(path).resolve()) for path in args.outputs]
    with tempfile.TemporaryDirectory() as folder:
        other = Path(folder) / "other"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(other), args.revision],
            check=True,
            capture_output=True,
        )
        try:
            rates: dict[str, list[float]] = {"this checkout": [], args.revision: []}
            digests: dict[str, set[str]] = {"this checkout": set(), args.revision: set()}
            for _ in range(args.rounds):
                for name, source in ((args.revision, other), ("this checkout", REPO)):
                    rate, digest = _rate(source, args.listings, outputs)
                    rates[name].append(rate)
                    digests[name].add(digest)
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)],
                check=False,
                capture_output=True,
            )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(
        json.dumps(
            {
                "listings": args.listings,
                "rates_per_s": {k: [round(v) for v in values] for k, values in rates.items()},
                "median_per_s": {k: round(v) for k, v in medians.items()},
                "ratio": round(medians["this checkout"] / medians[args.revision], 2),
                "outputs_identical": len(digests["this checkout"] | digests[args.revision]) == 1,
                "outputs_compared": ["benchmark listings", *args.outputs],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
