"""Score a Parquet folder of listings with Spark and write the assessments as Parquet.

python examples/spark_job.py INPUT_PARQUET_DIR OUTPUT_DIR [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import sys

from pyspark.sql import SparkSession

from cites_guard.spark import assess_dataframe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="Parquet folder of listings (an id column at least)")
    parser.add_argument("output", help="folder for the scored Parquet output")
    parser.add_argument("--master", default=None, help="Spark master, e.g. local[2]")
    args = parser.parse_args(argv)
    # In local mode the Python workers must run this interpreter (with cites-guard).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("cites-guard-score")
    if args.master:
        builder = builder.master(args.master)
    elif not SparkSession.getActiveSession():
        builder = builder.master("local[2]")
    spark = builder.config("spark.ui.enabled", "false").getOrCreate()
    try:
        scored = assess_dataframe(spark.read.parquet(args.input))
        scored.write.mode("overwrite").parquet(args.output)
        result = spark.read.parquet(args.output)
        print(f"scored {result.count()}")
        for row in result.groupBy("decision").count().orderBy("decision").collect():
            print(f"{row['decision'] or 'error'}: {row['count']}")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
