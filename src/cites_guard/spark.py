"""Assess a Spark DataFrame of listings, one guard per executor Python worker.

Install the extra first: ``pip install 'cites-guard[spark]'``. The settings travel to the
executors as JSON (never a live ONNX session); each Python worker builds its
:class:`~cites_guard.guard.Guard` once and keeps it in a module-level cache keyed by that
JSON, so every Arrow batch after the first reuses the loaded model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import ValidationError

from cites_guard.assessment import Assessment
from cites_guard.config import Settings
from cites_guard.errors import ConfigError
from cites_guard.guard import Guard
from cites_guard.listing import Listing

__all__ = ["OUTPUT_COLUMNS", "assess_dataframe"]

INSTALL = "pip install 'cites-guard[spark]'"

#: Columns added to the input, with their Spark SQL types.
OUTPUT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("risk", "double"),
    ("decision", "string"),
    ("rule", "string"),
    ("top_taxon", "string"),
    ("top_appendix", "string"),
    ("top_group", "string"),
    ("evidence", "string"),
    ("assessment", "string"),
    ("model_version", "string"),
    ("taxonomy_version", "string"),
    ("error", "string"),
)

_LISTING_FIELDS = tuple(Listing.model_fields)
_guards: dict[str, Guard] = {}


def _require_pyspark() -> Any:
    try:
        import pyarrow as pa  # noqa: F401, PLC0415 - checked here: the error names the extra
        import pyspark.sql  # noqa: PLC0415 - optional extra, imported only when used
        import pyspark.sql.types  # noqa: PLC0415 - same
    except ImportError as exc:
        raise ConfigError(f"Spark support needs the spark extra: {INSTALL}") from exc
    return pyspark.sql


def _guard_for(settings_json: str) -> Guard:
    """The worker's guard for these settings, built on first use (one ONNX thread)."""
    guard = _guards.get(settings_json)
    if guard is None:
        settings = Settings.model_validate_json(settings_json)
        # One ONNX thread per Python worker: Spark's tasks are the parallelism.
        model = settings.model.model_copy(update={"intra_op_threads": 1})
        guard = Guard.default(settings.model_copy(update={"model": model}))
        _guards[settings_json] = guard
    return guard


def _plain(value: Any) -> Any:
    """Turn Arrow cell values into the Python values a Listing accepts."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list) and value and all(isinstance(v, tuple) for v in value):
        return dict(value)  # a MapType cell arrives as a list of (key, value) pairs
    return value


def _error_field(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


def _outputs(assessment: Assessment) -> dict[str, Any]:
    top = assessment.top_match
    return {
        "risk": float(assessment.risk),
        "decision": assessment.decision,
        "rule": assessment.rule,
        "top_taxon": top.taxon if top else None,
        "top_appendix": top.appendix if top else None,
        "top_group": top.group if top else None,
        "evidence": json.dumps(
            [e.model_dump(mode="json") for e in top.evidence] if top else [],
            ensure_ascii=False,
        ),
        "assessment": assessment.model_dump_json(),
        "model_version": assessment.model_version,
        "taxonomy_version": assessment.taxonomy_version,
        "error": None,
    }


def _score_batches(
    batches: Iterator[Any], settings_json: str, columns: Mapping[str, str], batch_size: int
) -> Iterator[Any]:
    """The mapInArrow function: score each Arrow batch, keep input columns, add outputs."""
    import pyarrow as pa  # noqa: PLC0415 - optional extra, present wherever Spark runs this

    guard = _guard_for(settings_json)
    for batch in batches:
        listings: list[Listing] = []
        rows: list[dict[str, Any]] = []
        for record in batch.to_pylist():
            data = {field: _plain(record.get(column)) for field, column in columns.items()}
            data = {k: v for k, v in data.items() if v is not None}
            try:
                listings.append(Listing.model_validate(data))
                rows.append({})
            except ValidationError as exc:
                rows.append({name: None for name, _ in OUTPUT_COLUMNS})
                rows[-1]["error"] = _error_field(exc)
        results = iter(guard.assess_many(listings, batch_size=batch_size))
        for row in rows:
            if not row:
                row.update(_outputs(next(results)))
        arrays = list(batch.columns)
        names = list(batch.schema.names)
        for name, kind in OUTPUT_COLUMNS:
            arrays.append(
                pa.array(
                    [row[name] for row in rows],
                    type=pa.float64() if kind == "double" else pa.string(),
                )
            )
            names.append(name)
        yield pa.RecordBatch.from_arrays(arrays, names=names)


def assess_dataframe(
    df: Any,
    *,
    settings: Settings | None = None,
    columns: Mapping[str, str] | None = None,
    batch_size: int = 256,
) -> Any:
    """Assess every row of a Spark DataFrame of listings; return it with the outputs added.

    Runs with ``mapInArrow``: each executor Python worker builds one guard from the
    settings (sent as JSON) and scores Arrow batches of rows in ``batch_size`` model calls.
    Invalid rows (a null id, say) do not fail the job: their ``decision`` is null and
    ``error`` names the field.

    Args:
        df: A ``pyspark.sql.DataFrame``.
        settings: Settings for every worker's guard (default ``Settings()``).
        columns: Listing field -> DataFrame column, e.g. ``{"id": "listing_id"}``. Fields not
            named map to the column of the same name when it exists; missing optional
            columns are fine.
        batch_size: Listings per model call.

    Returns:
        A DataFrame with every input column plus ``risk`` (double), ``decision``, ``rule``,
        ``top_taxon``, ``top_appendix``, ``top_group``, ``evidence`` (JSON list of the top
        match's evidence), ``assessment`` (full JSON), ``model_version``,
        ``taxonomy_version`` and ``error`` (strings).

    Raises:
        ConfigError: pyspark is not installed, or ``columns`` names an unknown field or a
            column the DataFrame lacks.

    Example:
        >>> scored = assess_dataframe(df, columns={"id": "listing_id"})  # doctest: +SKIP
        >>> scored.groupBy("decision").count().show()  # doctest: +SKIP
    """
    sql = _require_pyspark()
    types = sql.types
    mapping = dict(columns or {})
    unknown = sorted(set(mapping) - set(_LISTING_FIELDS))
    if unknown:
        raise ConfigError(
            f"columns maps unknown listing fields {unknown}; valid: {', '.join(_LISTING_FIELDS)}"
        )
    present = set(df.columns)
    missing = sorted(c for c in mapping.values() if c not in present)
    if missing:
        raise ConfigError(f"columns names DataFrame columns that do not exist: {missing}")
    for field in _LISTING_FIELDS:
        if field not in mapping and field in present:
            mapping[field] = field
    if "id" not in mapping:
        raise ConfigError("no id column: name it with columns={'id': '<your id column>'}")
    clash = sorted(name for name, _ in OUTPUT_COLUMNS if name in present)
    if clash:
        raise ConfigError(f"input already has output columns {clash}; rename or drop them")
    schema = types.StructType(
        [
            *df.schema.fields,
            *(
                types.StructField(
                    name,
                    types.DoubleType() if kind == "double" else types.StringType(),
                    nullable=True,
                )
                for name, kind in OUTPUT_COLUMNS
            ),
        ]
    )
    settings_json = (settings or Settings()).model_dump_json()

    def score(batches: Iterator[Any]) -> Iterator[Any]:
        return _score_batches(batches, settings_json, mapping, batch_size)

    return df.mapInArrow(score, schema=schema)
