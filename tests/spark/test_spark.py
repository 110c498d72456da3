from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cites_guard import Guard
from cites_guard.spark import assess_dataframe

# pyspark warns about pandas 3 on every pandas/Arrow path; the warning is not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "listings.jsonl"
COLUMNS = ["id", "title", "description", "price", "currency", "category", "country", "language"]


def _listings(count: int) -> list[dict[str, object]]:
    base = [json.loads(line) for line in EXAMPLES.read_text(encoding="utf-8").splitlines()]
    out = []
    for i in range(count):
        row = {k: base[i % len(base)].get(k) for k in COLUMNS}
        row["id"] = f"sp-{i}"
        row["price"] = None if row["price"] is None else float(row["price"])
        out.append(row)
    return out


def _frame(spark, rows):
    schema = (
        "id string, title string, description string, price double, currency string, "
        "category string, country string, language string"
    )
    return spark.createDataFrame([tuple(r[c] for c in COLUMNS) for r in rows], schema=schema)


@pytest.fixture(scope="module")
def guard():
    return Guard.default()


def test_spark_output_equals_single_process(spark, guard):
    """Spark scores 330 listings exactly as Guard.assess_many does, row for row."""
    rows = _listings(330)
    expected = {a.listing_id: a for a in guard.assess_many(rows)}
    scored = assess_dataframe(_frame(spark, rows).repartition(3)).collect()
    assert len(scored) == len(rows)
    for row in scored:
        a = expected[row["id"]]
        top = a.top_match
        assert abs(row["risk"] - a.risk) < 1e-6
        assert row["decision"] == a.decision
        assert row["top_taxon"] == (top.taxon if top else None)
        assert row["error"] is None
        assert json.loads(row["assessment"])["listing_id"] == row["id"]


def test_column_mapping_reads_renamed_columns(spark, guard):
    """Listing fields are read from the columns the mapping names, and inputs are kept."""
    df = spark.createDataFrame(
        [("ad-1", "Carved 1v0ry bangle, pre-ban", 7)],
        schema="listing_id string, headline string, n int",
    )
    row = assess_dataframe(df, columns={"id": "listing_id", "title": "headline"}).collect()[0]
    expected = guard.assess({"id": "ad-1", "title": "Carved 1v0ry bangle, pre-ban"})
    assert row["n"] == 7
    assert row["decision"] == expected.decision
    assert row["top_taxon"] == "Elephantidae"
    assert json.loads(row["evidence"])


def test_invalid_rows_get_an_error_not_a_crash(spark):
    """A row with a null id comes out with a null decision and an error naming id."""
    df = spark.createDataFrame(
        [(None, "ivory bangle"), ("ok-1", "ivory bangle")], schema="id string, title string"
    )
    rows = {r["title"] + str(r["id"]): r for r in assess_dataframe(df).collect()}
    bad = rows["ivory bangleNone"]
    assert bad["decision"] is None
    assert bad["error"].startswith("id")
    assert rows["ivory bangleok-1"]["decision"] is not None


def test_example_job_runs_end_to_end(spark, tmp_path):
    """examples/spark_job.py scores a Parquet folder, writes Parquet and prints counts."""
    source = tmp_path / "in"
    _frame(spark, _listings(20)).write.parquet(str(source))
    target = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "spark_job.py"), str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "scored 20" in done.stdout
    assert spark.read.parquet(str(target)).count() == 20
