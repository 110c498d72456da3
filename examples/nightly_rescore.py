"""Reference integration: nightly re-score of a listings export, with a report of what changed.

When the model or the taxonomy is updated, yesterday's verdicts may no longer hold. This
script scores today's export of live listings, writes today's assessments (the same JSONL that
``cites-guard score -o`` writes, so tonight's output is tomorrow's ``--previous``), and
compares them with yesterday's: every listing whose decision changed goes to the changes file
with its old and new decision and risk, and a short text summary counts each transition
(``allow -> block``, ``review -> allow``...).

Run it::

    python examples/nightly_rescore.py --listings export.jsonl --previous yesterday.jsonl \\
        --output today.jsonl --changes changes.jsonl [--summary changes.txt]

Exit status: 0 when done, 1 when some export lines were rejected (the rest were scored),
2 when the run could not start. Outputs are written to temporary files and renamed at the
end, so a crashed run never leaves a half-written ``today.jsonl`` for tomorrow to trust.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from pydantic import ValidationError

from cites_guard import Assessment, CitesGuardError, Guard, InputError, Listing, Settings

DECISIONS = ("allow", "review", "block")
#: Transitions in the order the summary lists them: escalations first.
TRANSITIONS = (
    ("allow", "block"),
    ("review", "block"),
    ("allow", "review"),
    ("block", "review"),
    ("block", "allow"),
    ("review", "allow"),
)
#: Changed listings named in the text summary; the changes file always has all of them.
SUMMARY_LISTED = 200


class Previous(NamedTuple):
    """What yesterday's run said about one listing (kept small: one per live listing)."""

    decision: str
    risk: float
    model_version: str | None
    taxonomy_version: str | None


@dataclass
class RescoreResult:
    """Counts of one run, and the changed decisions in export order."""

    scored: int = 0
    rejected: list[InputError] = field(default_factory=list)
    new_listings: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: list[dict[str, Any]] = field(default_factory=list)
    gone: int = 0
    old_model_versions: set[str] = field(default_factory=set)
    model_version: str = ""
    taxonomy_version: str = ""


def _open_text(path: Path) -> IO[str]:
    # Undecodable bytes become U+FFFD: one bad line is rejected by validation, not fatal.
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def load_previous(path: Path) -> dict[str, Previous]:
    """Read yesterday's assessments (``cites-guard score`` JSONL), keyed by listing id.

    Only the decision, risk and versions are kept, so a few million listings fit in memory.

    Raises:
        InputError: A line is not an assessment with ``listing_id``, ``decision`` and ``risk``.
    """
    previous: dict[str, Previous] = {}
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                decision = data["decision"]
                entry = Previous(
                    decision,
                    float(data["risk"]),
                    data.get("model_version"),
                    data.get("taxonomy_version"),
                )
                listing_id = str(data["listing_id"])
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{path}: not an assessment ({exc!r})", record=number) from exc
            if decision not in DECISIONS:
                raise InputError(f"{path}: unknown decision {decision!r}", record=number)
            previous[listing_id] = entry
    return previous


def read_listings(path: Path, errors: list[InputError]) -> Iterator[Listing]:
    """Stream the export's listings; unreadable lines go to ``errors`` with their number."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield Listing.model_validate_json(line)
            except ValidationError as exc:
                errors.append(InputError.from_validation(exc, record=number))


def _change(old: Previous, new: Assessment) -> dict[str, Any]:
    top = new.top_match
    return {
        "listing_id": new.listing_id,
        "old_decision": old.decision,
        "new_decision": new.decision,
        "old_risk": old.risk,
        "new_risk": new.risk,
        "old_model_version": old.model_version,
        "new_model_version": new.model_version,
        "old_taxonomy_version": old.taxonomy_version,
        "new_taxonomy_version": new.taxonomy_version,
        "taxon": top.taxon if top else None,
        "appendix": top.appendix if top else None,
        "rule": new.rule,
    }


def _atomic(path: Path, stack: ExitStack) -> IO[str]:
    """A temporary file beside ``path``; renamed over it only if the run completes."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by the ExitStack
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    temporary = Path(handle.name)

    def finish(exc_type: type[BaseException] | None, *_: object) -> None:
        handle.close()
        if exc_type is None:
            temporary.replace(path)
        else:
            temporary.unlink(missing_ok=True)

    stack.push(finish)
    return handle


def rescore(
    guard: Guard,
    *,
    listings: Path,
    previous: Path,
    output: Path,
    changes: Path,
    batch_size: int = 256,
) -> RescoreResult:
    """Score ``listings``, write today's assessments and the decisions that changed.

    Args:
        guard: The guard with today's model and taxonomy.
        listings: Today's export (JSONL, optionally gzipped).
        previous: Yesterday's assessments (JSONL written by this script or ``cites-guard
            score``).
        output: Where today's assessments go.
        changes: Where the changed decisions go (JSONL, one object per listing).
        batch_size: Listings per model call.
    """
    before = load_previous(previous)
    result = RescoreResult(model_version=guard.model_version)
    result.old_model_versions.update(p.model_version for p in before.values() if p.model_version)
    seen: set[str] = set()
    with ExitStack() as stack:
        out = _atomic(output, stack)
        changed = _atomic(changes, stack)
        stream = read_listings(listings, result.rejected)
        for assessment in guard.assess_many(stream, batch_size=batch_size):
            result.scored += 1
            result.taxonomy_version = assessment.taxonomy_version
            out.write(assessment.model_dump_json() + "\n")
            seen.add(assessment.listing_id)
            old = before.get(assessment.listing_id)
            if old is None:
                result.new_listings += 1
            elif old.decision != assessment.decision:
                change = _change(old, assessment)
                result.transitions[old.decision, assessment.decision] += 1
                result.changes.append(change)
                changed.write(json.dumps(change, ensure_ascii=False) + "\n")
        for handle in (out, changed):
            handle.flush()
            os.fsync(handle.fileno())
    result.gone = sum(1 for listing_id in before if listing_id not in seen)
    return result


def summary(result: RescoreResult) -> str:
    """The short text report a moderator or an on-call engineer reads in the morning."""
    old_models = ", ".join(sorted(result.old_model_versions)) or "unknown"
    lines = [
        f"nightly re-score: {result.scored} listings scored, {len(result.rejected)} rejected",
        f"model {old_models} -> {result.model_version}; taxonomy {result.taxonomy_version}",
        (
            f"decisions changed: {len(result.changes)} "
            f"(new listings: {result.new_listings}, no longer in the export: {result.gone})"
        ),
    ]
    lines.extend(
        f"  {old:>6} -> {new:<6} {result.transitions[old, new]}" for old, new in TRANSITIONS
    )
    if result.changes:
        lines.append("changed listings (old risk -> new risk):")
        lines.extend(
            f"  {c['listing_id']}: {c['old_decision']} ({c['old_risk']:.2f}) -> "
            f"{c['new_decision']} ({c['new_risk']:.2f})"
            + (f"  {c['taxon']}, Appendix {c['appendix']}" if c["taxon"] else "")
            for c in result.changes[:SUMMARY_LISTED]
        )
        if len(result.changes) > SUMMARY_LISTED:
            lines.append(f"  ... and {len(result.changes) - SUMMARY_LISTED} more (changes file)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None, *, guard: Guard | None = None) -> int:
    """Run the nightly re-score; ``guard`` replaces the default one (tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=Path, required=True, help="today's export (JSONL)")
    parser.add_argument("--previous", type=Path, required=True, help="yesterday's assessments")
    parser.add_argument("--output", type=Path, required=True, help="today's assessments")
    parser.add_argument("--changes", type=Path, required=True, help="changed decisions (JSONL)")
    parser.add_argument("--summary", type=Path, help="text summary (default: CHANGES.txt)")
    parser.add_argument("--settings", help="cites-guard settings file (TOML or JSON)")
    parser.add_argument("--no-model", action="store_true", help="score from evidence alone")
    args = parser.parse_args(argv)
    try:
        if guard is None:
            settings = Settings.from_file(args.settings) if args.settings else Settings()
            if args.no_model:
                model = settings.model.model_copy(update={"enabled": False})
                settings = settings.model_copy(update={"model": model})
            guard = Guard.default(settings)
        result = rescore(
            guard,
            listings=args.listings,
            previous=args.previous,
            output=args.output,
            changes=args.changes,
        )
    except (CitesGuardError, OSError) as exc:
        sys.stderr.write(f"nightly_rescore: error: {exc}\n")
        return 2
    for error in result.rejected:
        sys.stderr.write(f"nightly_rescore: {args.listings}: rejected {error}\n")
    text = summary(result)
    summary_path = args.summary or args.changes.with_suffix(".txt")
    summary_path.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 1 if result.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
