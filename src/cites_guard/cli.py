"""The ``cites-guard`` command: a thin shell over the library.

Sub-commands: ``score`` (batch scoring), ``taxa`` (what the taxonomy knows), and those
registered by other modules (evaluation, training, reports, receiver). Exit status: 0 on
success, 1 when some input records were rejected (the rest were processed), 2 when the
command could not run at all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TextIO

from cites_guard import __version__
from cites_guard._batching import iter_batches
from cites_guard._cli_reports import open_reporter
from cites_guard._records import is_csv, raw_jsonl_lines, read_records
from cites_guard.assessment import Assessment
from cites_guard.batch import default_workers, score_jsonl_parallel
from cites_guard.config import ModelSettings, Settings
from cites_guard.errors import CitesGuardError
from cites_guard.guard import Guard
from cites_guard.listing import MAX_FIELD_CHARS, Listing
from cites_guard.taxonomy import load_taxonomy

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


class _Progress:
    """A one-line progress display on a terminal; silent elsewhere."""

    def __init__(self, stream: TextIO, *, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled and stream.isatty()
        self._started = time.monotonic()
        self._shown = 0.0

    def update(self, done: int, rejected: int) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.25:
            return
        self._shown = now
        rate = done / max(now - self._started, 1e-9)
        self._stream.write(f"\rscored {done:,}  rejected {rejected:,}  {rate:,.0f}/s ")
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_file(args.config) if args.config else Settings()
    if getattr(args, "no_model", False):
        model = ModelSettings.model_validate({**settings.model.model_dump(), "enabled": False})
        settings = settings.model_copy(update={"model": model})
    if getattr(args, "threshold", None) is not None:
        settings = settings.with_threshold(args.threshold)
    return settings


Outcome = tuple[int, str, str, str | None, str]
"""Per input record: ``(line, "ok", assessment_json, truncated, "")`` or
``(line, "error", reason, field, raw)``."""


def _outcomes_in_process(path: str, guard: Guard, batch_size: int) -> Iterator[Outcome]:
    """Score in this process, in batches, keeping input order."""
    for batch in iter_batches(read_records(path), batch_size):
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
                reportable = guard.policy.should_report(assessment.decision)
                listing_json = record.listing.model_dump_json() if reportable else ""
                yield record.line, "ok", assessment.model_dump_json(), truncated, listing_json


def _cmd_score(args: argparse.Namespace) -> int:
    stderr = sys.stderr
    settings = _settings(args)
    workers = args.workers or default_workers()
    if workers > 1 and is_csv(args.input):
        workers = 1  # CSV rows may span lines: parsed and scored in this process
    if workers > 1:
        Guard.default(settings)  # fail fast, in the parent, on a bad model or taxonomy
        outcomes: Iterator[Outcome] = score_jsonl_parallel(
            raw_jsonl_lines(args.input),
            settings=settings,
            workers=workers,
            batch_size=args.batch_size,
        )
    else:
        outcomes = _outcomes_in_process(args.input, Guard.default(settings), args.batch_size)
    rejected = 0
    scored = 0
    reported = 0
    decisions: Counter[str] = Counter()
    files = contextlib.ExitStack()
    reporter = (
        files.enter_context(open_reporter(args.report_config, args.outbox)) if args.report else None
    )
    errors_handle: IO[str] | None = (
        files.enter_context(Path(args.errors).open("w", encoding="utf-8"))  # noqa: SIM115
        if args.errors
        else None
    )
    output: IO[str] = (
        files.enter_context(Path(args.output).open("w", encoding="utf-8"))  # noqa: SIM115
        if args.output
        else sys.stdout
    )
    progress = _Progress(stderr, enabled=not args.quiet)
    started = time.monotonic()
    try:
        for line, kind, payload, extra, raw in outcomes:
            if kind == "error":
                rejected += 1
                where = f" (field {extra!r})" if extra else ""
                stderr.write(f"cites-guard: line {line}: rejected: {payload}{where}\n")
                if errors_handle is not None:
                    errors_handle.write(
                        json.dumps(
                            {"line": line, "field": extra, "reason": payload, "record": raw},
                            ensure_ascii=False,
                        )
                        + "\n"
                    )
                continue
            if extra and not args.quiet:
                stderr.write(
                    f"cites-guard: line {line}: {extra} cut to {MAX_FIELD_CHARS} characters "
                    "(flagged)\n"
                )
            output.write(payload + "\n")
            if reporter is not None and raw:
                reporter.enqueue(
                    Listing.model_validate_json(raw), Assessment.model_validate_json(payload)
                )
                reported += 1
            scored += 1
            decisions[_decision_of(payload)] += 1
            progress.update(scored, rejected)
    finally:
        progress.close()
        output.flush()
        files.close()
    elapsed = time.monotonic() - started
    if not args.quiet:
        summary = ", ".join(f"{k} {decisions[k]:,}" for k in ("allow", "review", "block"))
        stderr.write(
            f"cites-guard: scored {scored:,}, rejected {rejected:,} ({summary}) in "
            f"{elapsed:.1f}s with {workers} worker(s), "
            + (f"{reported:,} report(s) enqueued, " if reporter is not None else "")
            + f"{scored / max(elapsed, 1e-9):,.0f} listings/s\n"
        )
    return 1 if rejected else 0


def _decision_of(assessment_json: str) -> str:
    """The decision of a serialised assessment, without parsing the whole document."""
    for decision in ("block", "review", "allow"):
        if f'"decision":"{decision}"' in assessment_json:
            return decision
    return "allow"


def _cmd_taxa(args: argparse.Namespace) -> int:
    taxonomy = load_taxonomy()
    found = taxonomy.search(args.query) if args.query else list(taxonomy.taxa)
    if args.json:
        for taxon in found:
            sys.stdout.write(taxon.model_dump_json() + "\n")
        return 0
    if not found:
        sys.stdout.write(f"no taxon matches {args.query!r}\n")
        return 1
    for taxon in found:
        names = "; ".join(
            f"{lang}: {', '.join(terms[:3])}" for lang, terms in sorted(taxon.names.items())
        )
        sys.stdout.write(
            f"{taxon.name} ({taxon.rank}) Appendix {taxon.appendix} [{taxon.group}]\n  {names}\n"
        )
        if taxon.appendix_note:
            sys.stdout.write(f"  note: {taxon.appendix_note}\n")
        if args.query:
            products = sorted({t for terms in taxon.products.values() for t in terms})
            codes = sorted({t for terms in taxon.code_words.values() for t in terms})
            if products:
                sys.stdout.write(f"  products: {', '.join(products[:40])}\n")
            if codes:
                sys.stdout.write(f"  code words: {', '.join(codes[:40])}\n")
    sys.stdout.write(f"{len(found)} taxa (taxonomy {taxonomy.version})\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cites-guard`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="cites-guard",
        description="Detect marketplace listings that offer CITES-listed wildlife.",
    )
    parser.add_argument("--version", action="version", version=f"cites-guard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    score = commands.add_parser(
        "score",
        help="score listings from JSONL or CSV",
        description=(
            "Score every listing in INPUT (JSONL, CSV by extension, optionally .gz; '-' for "
            "stdin) and write one assessment per line, in input order."
        ),
    )
    score.add_argument("input", metavar="INPUT")
    score.add_argument("-o", "--output", help="write assessments here instead of stdout")
    score.add_argument("--errors", metavar="FILE", help="write rejected records here (JSONL)")
    score.add_argument("--config", metavar="FILE", help="settings file (.json or .toml)")
    score.add_argument("--threshold", type=float, help="review threshold (0..1)")
    score.add_argument("--no-model", action="store_true", help="score from evidence alone")
    score.add_argument("--batch-size", type=int, default=64, help="listings per model call")
    score.add_argument(
        "--workers", type=int, default=0, help="worker processes (default: all cores; 1: none)"
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

    taxa = commands.add_parser("taxa", help="look up what the taxonomy knows")
    taxa.add_argument("query", nargs="?", help="a scientific or common name, any language")
    taxa.add_argument("--json", action="store_true", help="print full entries as JSONL")
    taxa.set_defaults(handler=_cmd_taxa)

    for register in _plugins():
        register(commands)
    return parser


def _plugins() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Sub-commands that live beside the modules they drive."""
    from cites_guard import _cli_model, _cli_reports  # noqa: PLC0415 - lean start-up

    return [_cli_model.register, _cli_reports.register]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CitesGuardError as exc:
        sys.stderr.write(f"cites-guard: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cites-guard: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
