"""Read listing records from JSONL or CSV files (or stdin), one bad line never stopping the rest.

Each record comes out as a :class:`Record`: its 1-based line (or row) number, the raw text
(kept so a rejected record can be shown to the user as it was), and either the parsed
listing or the :class:`~cites_guard.errors.InputError` that says what is wrong with it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from pydantic import ValidationError

from cites_guard.errors import ConfigError, InputError
from cites_guard.listing import MAX_FIELD_CHARS, Listing

__all__ = [
    "Record",
    "needs_parent_parsing",
    "parse_jsonl_line",
    "raw_jsonl_lines",
    "read_records",
]

_RAW_KEPT = 4096  # characters of a rejected record kept in the errors file


@dataclass(frozen=True, slots=True)
class Record:
    """One input record, parsed or rejected."""

    line: int
    raw: str
    listing: Listing | None
    error: InputError | None


def _open_binary(path: str) -> IO[bytes]:
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return cast("IO[bytes]", gzip.open(path, "rb"))
    return Path(path).open("rb")


def _format(path: str) -> str:
    name = path.removesuffix(".gz").lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".parquet"):
        return "parquet"
    return "jsonl"


def _listing(data: Any, line: int) -> Listing:
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, got {type(data).__name__}", record=line)
    try:
        return Listing.model_validate(data)
    except ValidationError as exc:
        raise InputError.from_validation(exc, record=line) from exc


def parse_jsonl_line(line: int, chunk: bytes) -> Record:
    """Parse one JSON Lines record; a bad one comes back with its error, never raises."""
    try:
        text = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        raw = chunk.decode("utf-8", errors="backslashreplace")[:_RAW_KEPT]
        field = _field_with_bad_bytes(chunk)
        error = InputError(f"invalid UTF-8 at byte {exc.start}", record=line, field=field)
        return Record(line, raw, None, error)
    try:
        data = json.loads(text)
        return Record(line, "", _listing(data, line), None)
    except json.JSONDecodeError as exc:
        error = InputError(f"not JSON: {exc.msg} at column {exc.colno}", record=line)
        return Record(line, text[:_RAW_KEPT], None, error)
    except RecursionError:
        error = InputError("JSON nested too deeply", record=line)
        return Record(line, text[:_RAW_KEPT], None, error)
    except InputError as exc:
        return Record(line, text[:_RAW_KEPT], None, exc)


def raw_jsonl_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """Stream ``(line number, raw bytes)`` of a JSON Lines input, skipping blank lines."""
    handle = _open_binary(path)
    try:
        for line, chunk in enumerate(handle, start=1):
            if chunk.strip():
                yield line, chunk
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def needs_parent_parsing(path: str) -> bool:
    """Whether ``path`` must be parsed in one process (CSV rows span lines; Parquet)."""
    return _format(path) in ("csv", "parquet")


def _jsonl(handle: IO[bytes]) -> Iterator[Record]:
    for line, chunk in enumerate(handle, start=1):
        if chunk.strip():
            yield parse_jsonl_line(line, chunk)


def _csv(handle: IO[bytes]) -> Iterator[Record]:
    text = io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape", newline="")
    csv.field_size_limit(max(MAX_FIELD_CHARS * 1000, 1 << 27))
    reader = csv.DictReader(text)
    try:
        for row in reader:
            line = reader.line_num
            raw = ",".join(v or "" for v in row.values() if isinstance(v, str))
            raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            bad = next(
                (k for k, v in row.items() if isinstance(v, str) and _has_surrogates(v)), None
            )
            if bad is not None:
                error = InputError("invalid UTF-8", record=line, field=bad)
                yield Record(line, raw[:_RAW_KEPT], None, error)
                continue
            data: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v != ""}
            if None in row:
                error = InputError("more values than header columns", record=line)
                yield Record(line, raw[:_RAW_KEPT], None, error)
                continue
            if "price" in data:
                data["price"] = _number(data["price"])
            if "image_texts" in data:
                data["image_texts"] = [t for t in data["image_texts"].split("|") if t]
            try:
                yield Record(line, "", _listing(data, line), None)
            except InputError as exc:
                yield Record(line, raw[:_RAW_KEPT], None, exc)
    except csv.Error as exc:
        error = InputError(f"unreadable CSV: {exc}", record=reader.line_num)
        yield Record(reader.line_num, "", None, error)


def _field_with_bad_bytes(chunk: bytes) -> str | None:
    """Name the top-level field whose value holds the undecodable bytes, when it parses."""
    try:
        data = json.loads(chunk.decode("utf-8", errors="surrogateescape"))
    except (json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if _has_surrogates(json.dumps(value, ensure_ascii=False)) or _has_surrogates(str(key)):
            return str(key)
    return None


def _has_surrogates(value: str) -> bool:
    return any(0xDC80 <= ord(ch) <= 0xDCFF for ch in value)


_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+(\.\d+)?$")


def _number(value: str) -> float | str:
    """A CSV price, read only when unambiguous.

    "1,200.50" reads as 1200.5; "12,50" or "1.234,50" stay text, for validation to reject
    naming the field, rather than be misread.
    """
    text = value.strip()
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    try:
        return float(text)
    except ValueError:
        return value


def _parquet(path: str) -> Iterator[Record]:
    """Rows of a Parquet file, a batch at a time (needs the ``parquet`` extra)."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise ConfigError(
            "reading Parquet needs pyarrow: pip install 'cites-guard[parquet]'"
        ) from exc
    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for data in batch.to_pylist():
            row += 1
            clean = {k: v for k, v in data.items() if v is not None}
            try:
                yield Record(row, "", _listing(clean, row), None)
            except InputError as exc:
                yield Record(row, json.dumps(data, default=str)[:_RAW_KEPT], None, exc)


def read_records(path: str) -> Iterator[Record]:
    """Stream records from ``path`` (``-`` for stdin); format from the extension.

    ``.csv`` (optionally ``.csv.gz``) is read as CSV with a header row, ``.parquet`` as
    Parquet (row numbers stand for lines); anything else as JSON Lines. Blank lines are
    skipped. Nothing is read ahead: memory stays flat.
    """
    if _format(path) == "parquet":
        yield from _parquet(path)
        return
    handle = _open_binary(path)
    try:
        yield from (_csv(handle) if _format(path) == "csv" else _jsonl(handle))
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()
