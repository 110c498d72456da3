"""Spark local[2] throughput on N listings, and whether it matches one process exactly.

python benchmarks/bench_spark.py --listings 100000 [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import make_listings

from cites_guard import Guard
from cites_guard.spark import assess_dataframe

FIELDS = ("id", "title", "description", "price", "currency", "category", "country", "language")
SCHEMA = (
    "id string, title string, description string, price double, currency string, "
    "category string, country string, language string"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--no-compare", action="store_true", help="skip the single-process run")
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession  # noqa: PLC0415 - after PYSPARK_PYTHON is set

    rows = make_listings(args.listings)
    for row in rows:
        price = row.get("price")
        row["price"] = None if price is None else float(str(price))
    spark = (
        SparkSession.builder.master(args.master)
        .appName("cites-guard-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            source, target = Path(tmp) / "in", Path(tmp) / "out"
            frame = spark.createDataFrame(
                [tuple(row.get(f) for f in FIELDS) for row in rows], schema=SCHEMA
            )
            frame.repartition(spark.sparkContext.defaultParallelism * 4).write.parquet(str(source))
            started = time.perf_counter()
            assess_dataframe(spark.read.parquet(str(source))).select(
                "id", "risk", "decision"
            ).write.parquet(str(target))
            elapsed = time.perf_counter() - started
            got = {
                r["id"]: (r["risk"], r["decision"])
                for r in spark.read.parquet(str(target)).collect()
            }
    finally:
        spark.stop()
    print(
        f"spark {args.master}: {args.listings} listings in {elapsed:.1f} s = "
        f"{args.listings / elapsed:,.0f} listings/s (read Parquet -> score -> write Parquet)"
    )
    if args.no_compare:
        return 0
    started = time.perf_counter()
    expected = {a.listing_id: (a.risk, a.decision) for a in Guard.default().assess_many(rows)}
    single = time.perf_counter() - started
    same = len(got) == len(expected) and all(
        abs(got[k][0] - v[0]) <= 1e-6 and got[k][1] == v[1] for k, v in expected.items() if k in got
    )
    print(f"single process: {args.listings / single:,.0f} listings/s")
    print(f"identical to single-process output (risk within 1e-6, same decisions): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
