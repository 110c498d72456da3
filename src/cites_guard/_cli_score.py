"""``cites-guard score``: batch scoring that streams, uses every core, and can resume.

Output is written in input order. With ``-o OUTPUT``, a checkpoint beside the output
(``OUTPUT.checkpoint.json``) records, every couple of seconds, the last input line fully
written and the sizes of the output and errors files at that moment (after an fsync). After
Ctrl-C or a crash, ``--resume`` truncates both files back to the checkpoint and skips the
input lines it covers: nothing is written twice and nothing is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, TextIO

from cites_guard._batching import iter_batches
from cites_guard._cli_reports import open_reporter
from cites_guard._records import needs_parent_parsing, raw_jsonl_lines, read_records
from cites_guard.assessment import Assessment
from cites_guard.batch import default_workers, preflight, score_jsonl_parallel
from cites_guard.config import ModelSettings, Settings
from cites_guard.errors import ConfigError
from cites_guard.guard import Guard
from cites_guard.listing import MAX_FIELD_CHARS, Listing

__all__ = ["register"]

Commands = argparse._SubParsersAction  # noqa: SLF001 - argparse exposes no public name

Outcome = tuple[int, str, str, str | None, str]
"""Per input record: ``(line, "ok", assessment_json, truncated, listing_json_if_reported)``
or ``(line, "error", reason, field, raw)``."""

_CHECKPOINT_SECONDS = 2.0


def _count_lines(path: str, into: list[int]) -> None:
    """Count the lines of an input file (in a background thread, for the ETA)."""
    opener = gzip.open if path.endswith(".gz") else open
    with contextlib.suppress(OSError, EOFError), opener(path, "rb") as handle:
        into.append(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")))


class _Progress:
    """A one-line progress display with rate and ETA on a terminal; silent elsewhere.

    The ETA appears once a background thread has counted the input's lines.
    """

    def __init__(self, stream: TextIO, *, enabled: bool, path: str) -> None:
        self._stream = stream
        self._enabled = enabled and stream.isatty()
        self._started = time.monotonic()
        self._shown = 0.0
        self._total: list[int] = []
        if self._enabled and path != "-" and not needs_parent_parsing(path):
            threading.Thread(target=_count_lines, args=(path, self._total), daemon=True).start()

    def update(self, done: int, rejected: int, line: int = 0, first_line: int = 0) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.25:
            return
        self._shown = now
        elapsed = max(now - self._started, 1e-9)
        text = f"\rscored {done:,}  rejected {rejected:,}  {done / elapsed:,.0f}/s"
        if self._total and self._total[0] > first_line and line > first_line:
            fraction = min(1.0, (line - first_line) / (self._total[0] - first_line))
            eta = elapsed * (1 - fraction) / max(fraction, 1e-9)
            text += f"  {line / self._total[0]:5.1%}  ETA {int(eta) // 60}m{int(eta) % 60:02d}s"
        line_text = text
        self._stream.write(line_text + " ")
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")


@dataclass
class _Checkpoint:
    """How far a run got: the last input line written, and the file sizes at that point."""

    input: str
    line: int = 0
    output_bytes: int = 0
    errors_bytes: int = 0
    scored: int = 0
    rejected: int = 0

    @staticmethod
    def path_for(output: str) -> Path:
        return Path(f"{output}.checkpoint.json")

    def save(self, output: str) -> None:
        path = self.path_for(output)
        temporary = path.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(self)))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)

    @classmethod
    def load(cls, output: str, input_path: str) -> _Checkpoint:
        path = cls.path_for(output)
        if not path.exists():
            return cls(input=input_path)
        try:
            checkpoint = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{path}: unreadable checkpoint ({exc}); delete it to start over"
            ) from exc
        if checkpoint.input != input_path:
            raise ConfigError(
                f"{path} belongs to input {checkpoint.input!r}, not {input_path!r}; "
                "delete it or use the same input"
            )
        return checkpoint


def _outcomes_in_process(
    path: str, guard: Guard, batch_size: int, skip_to: int, *, with_listings: bool
) -> Iterator[Outcome]:
    """Score in this process, in batches, keeping input order."""
    records = (r for r in read_records(path) if r.line > skip_to)
    for batch in iter_batches(records, batch_size):
        listings: list[Listing] = [r.listing for r in batch if r.listing is not None]
        results = iter(guard.assess_many(listings, batch_size=batch_size))
        for record in batch:
            if record.listing is None:
                error = record.error
                reason = error.reason if error else "unreadable"
                yield record.line, "error", reason, error.field if error else None, record.raw
            else:
                truncated = ",".join(record.listing.truncated_fields) or None
                assessment = next(results)
                reportable = with_listings and guard.policy.should_report(assessment.decision)
                listing_json = record.listing.model_dump_json() if reportable else ""
                yield record.line, "ok", assessment.model_dump_json(), truncated, listing_json


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_file(args.config) if args.config else Settings()
    if args.no_model:
        model = ModelSettings.model_validate({**settings.model.model_dump(), "enabled": False})
        settings = settings.model_copy(update={"model": model})
    if args.threshold is not None:
        settings = settings.with_threshold(args.threshold)
    return settings


def _open(path: str, truncate_to: int | None) -> IO[str]:
    """Open an output file fresh, or cut back to ``truncate_to`` bytes and append."""
    if truncate_to is None:
        return Path(path).open("w", encoding="utf-8")
    with Path(path).open("ab") as handle:
        handle.truncate(truncate_to)
    return Path(path).open("a", encoding="utf-8")


def _decision_of(assessment_json: str) -> str:
    """The decision of a serialised assessment, without parsing the whole document."""
    for decision in ("block", "review", "allow"):
        if f'"decision":"{decision}"' in assessment_json:
            return decision
    return "allow"


def _cmd_score(args: argparse.Namespace) -> int:  # noqa: C901, PLR0912, PLR0915 - one loop
    stderr = sys.stderr
    if args.resume and not args.output:
        raise ConfigError("--resume needs -o OUTPUT (the checkpoint lives beside it)")
    if args.input != "-" and not Path(args.input).is_file():
        raise ConfigError(f"{args.input}: no such input file")
    settings = _settings(args)
    checkpoint = (
        _Checkpoint.load(args.output, args.input) if args.resume else _Checkpoint(args.input)
    )
    resuming = args.resume and checkpoint.line > 0
    workers = args.workers or default_workers()
    if workers > 1 and needs_parent_parsing(args.input):
        workers = 1  # CSV rows may span lines, Parquet is columnar: parsed here
    if workers > 1:
        preflight(settings)  # fail fast, in the parent, on a bad model or taxonomy
        lines = ((n, raw) for n, raw in raw_jsonl_lines(args.input) if n > checkpoint.line)
        outcomes: Iterator[Outcome] = score_jsonl_parallel(
            lines,
            settings=settings,
            workers=workers,
            batch_size=args.batch_size,
            with_listings=bool(args.report),
        )
    else:
        guard = Guard.default(settings)
        outcomes = _outcomes_in_process(
            args.input, guard, args.batch_size, checkpoint.line, with_listings=bool(args.report)
        )
    decisions: Counter[str] = Counter()
    reported = 0
    files = contextlib.ExitStack()
    reporter = (
        files.enter_context(open_reporter(args.report_config, args.outbox)) if args.report else None
    )
    errors_handle = (
        files.enter_context(_open(args.errors, checkpoint.errors_bytes if resuming else None))
        if args.errors
        else None
    )
    output: IO[str] = (
        files.enter_context(_open(args.output, checkpoint.output_bytes if resuming else None))
        if args.output
        else sys.stdout
    )
    progress = _Progress(stderr, enabled=not args.quiet, path=args.input)
    first_line = checkpoint.line
    started = time.monotonic()
    last_saved = started
    scored_before, rejected_before = checkpoint.scored, checkpoint.rejected
    if not resuming:
        checkpoint.output_bytes = checkpoint.errors_bytes = 0
    interrupted = False

    def save() -> None:
        # Only `checkpoint` (records fully handled) is saved; bytes written past it by an
        # interrupted record are cut off by --resume.
        if args.output:
            output.flush()
            os.fsync(output.fileno())
            if errors_handle is not None:
                errors_handle.flush()
                os.fsync(errors_handle.fileno())
            checkpoint.save(args.output)

    try:
        for line, kind, payload, extra, raw in outcomes:
            if kind == "error":
                where = f" (field {extra!r})" if extra else ""
                stderr.write(f"cites-guard: line {line}: rejected: {payload}{where}\n")
                text = ""
                if errors_handle is not None:
                    record = {"line": line, "field": extra, "reason": payload, "record": raw}
                    text = json.dumps(record, ensure_ascii=False) + "\n"
                    errors_handle.write(text)
                checkpoint = replace(
                    checkpoint, line=line, rejected=checkpoint.rejected + 1,
                    errors_bytes=checkpoint.errors_bytes + len(text.encode("utf-8")),
                )  # fmt: skip
            else:
                if extra and not args.quiet:
                    stderr.write(
                        f"cites-guard: line {line}: {extra} cut to {MAX_FIELD_CHARS} "
                        "characters (flagged)\n"
                    )
                if reporter is not None and raw:
                    # Before the output line: a report id is derived from the case, so a
                    # record redone after an interruption is enqueued once.
                    reporter.enqueue(
                        Listing.model_validate_json(raw), Assessment.model_validate_json(payload)
                    )
                    reported += 1
                text = payload + "\n"
                output.write(text)
                decisions[_decision_of(payload)] += 1
                checkpoint = replace(
                    checkpoint, line=line, scored=checkpoint.scored + 1,
                    output_bytes=checkpoint.output_bytes + len(text.encode("utf-8")),
                )  # fmt: skip
            now = time.monotonic()
            if now - last_saved >= _CHECKPOINT_SECONDS:
                save()
                last_saved = now
            progress.update(checkpoint.scored, checkpoint.rejected, line, first_line)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
        with contextlib.suppress(Exception):
            close = getattr(outcomes, "close", None)
            if close is not None:
                close()
        save()
        output.flush()
        files.close()
    elapsed = time.monotonic() - started
    if interrupted:
        stderr.write(
            f"cites-guard: interrupted after input line {checkpoint.line:,}; output is "
            "consistent" + (". Continue with --resume\n" if args.output else "\n")
        )
        return 130
    if args.output:
        _Checkpoint.path_for(args.output).unlink(missing_ok=True)
    if not args.quiet:
        scored = checkpoint.scored - scored_before
        summary = ", ".join(f"{k} {decisions[k]:,}" for k in ("allow", "review", "block"))
        stderr.write(
            f"cites-guard: scored {scored:,}, rejected {checkpoint.rejected - rejected_before:,}"
            f" ({summary}) in {elapsed:.1f}s with {workers} worker(s), "
            + (f"{reported:,} report(s) enqueued, " if reporter is not None else "")
            + (f"resumed after line {first_line:,}, " if resuming else "")
            + f"{scored / max(elapsed, 1e-9):,.0f} listings/s\n"
        )
    return 1 if checkpoint.rejected else 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def register(commands: Commands[argparse.ArgumentParser]) -> None:
    """Add ``score`` to the ``cites-guard`` command."""
    score = commands.add_parser(
        "score",
        help="score listings from JSONL, CSV or Parquet",
        description=(
            "Score every listing in INPUT (JSONL, or CSV / Parquet by extension, optionally "
            ".gz; '-' for stdin) and write one assessment per line, in input order."
        ),
    )
    score.add_argument("input", metavar="INPUT")
    score.add_argument("-o", "--output", help="write assessments here instead of stdout")
    score.add_argument("--errors", metavar="FILE", help="write rejected records here (JSONL)")
    score.add_argument("--config", metavar="FILE", help="settings file (.json or .toml)")
    score.add_argument("--threshold", type=float, help="review threshold (0..1)")
    score.add_argument("--no-model", action="store_true", help="score from evidence alone")
    score.add_argument("--batch-size", type=_positive, default=64, help="listings per model call")
    score.add_argument(
        "--workers", type=int, default=0, help="worker processes (default: all cores; 1: none)"
    )
    score.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUTPUT's checkpoint",
    )
    score.add_argument("-q", "--quiet", action="store_true", help="no progress or summary")
    score.add_argument(
        "--report",
        action="store_true",
        help="enqueue a report for each listing the policy reports (blocked, by default)",
    )
    score.add_argument("--outbox", metavar="FILE", help="outbox for --report (SQLite)")
    score.add_argument(
        "--report-config",
        metavar="FILE",
        help="report endpoint settings for --report (default: CITES_GUARD_REPORT_* variables)",
    )
    score.set_defaults(handler=_cmd_score)
