"""Find taxonomy terms that name ordinary goods more often than wildlife, and mark them weak.

Usage: python tools/audit_terms.py [--apply] [--min-negatives 3] [--ratio 3]

Reads the *train* split of the hand-written corpus (never calibration, test or the dev set),
finds every name, product and code word in each listing, and counts the listings of each
label it occurs in. A term found in at least ``--min-negatives`` ordinary ads and at least
``--ratio`` times as many ordinary ads as offers ("periquito" is mostly budgies, "orkid" mostly
supermarket hybrids, "HH" folds to a lone "h") is printed; ``--apply`` adds it to its taxon's
``ambiguous_terms``, so it still shows as evidence but no longer carries a full match.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from cites_guard import Guard, Settings
from cites_guard.config import ModelSettings
from cites_guard.dataset import read_labelled
from cites_guard.taxonomy import _bundled_dir
from cites_guard.training.pipeline import split_of

ROOT = Path(__file__).resolve().parent.parent
_POSITIVE_KINDS = ("species", "product", "code_word")


def count_terms() -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """Per (taxon, term): listings of the train split with the term, offers and others."""
    guard = Guard(settings=Settings(model=ModelSettings(enabled=False)))
    offers: Counter[tuple[str, str]] = Counter()
    ordinary: Counter[tuple[str, str]] = Counter()
    for path in sorted((ROOT / "corpus").glob("*.jsonl")):
        for record in read_labelled(path, []):
            if split_of(record.id) != "train":
                continue
            hits, _ = guard.detectors.detect(record.to_listing())
            found = {
                (h.entry.target, h.entry.term)
                for h in hits
                # Scientific names (no language) are not the taxon's terms to weaken.
                if h.entry.kind in _POSITIVE_KINDS
                and not h.entry.ambiguous
                and h.entry.language is not None
            }
            (offers if record.label == 1 else ordinary).update(found)
    return offers, ordinary


def weak_terms(min_negatives: int, ratio: float) -> dict[str, set[str]]:
    """Taxon -> terms to mark ambiguous."""
    offers, ordinary = count_terms()
    out: dict[str, set[str]] = {}
    for key, negatives in sorted(ordinary.items()):
        if negatives >= min_negatives and negatives >= ratio * offers[key]:
            taxon, term = key
            out.setdefault(taxon, set()).add(term)
            print(f"{negatives:3d} ordinary {offers[key]:3d} offers  {taxon}: {term!r}")
    return out


def apply(weak: dict[str, set[str]]) -> int:
    """Add the terms to ``ambiguous_terms`` in the bundled taxon files; lines changed."""
    changed = 0
    for path in sorted((_bundled_dir() / "taxa").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            entry = json.loads(line)
            terms = weak.get(entry["name"])
            if not terms:
                continue
            listed = entry.setdefault("ambiguous_terms", [])
            new = sorted(t for t in terms if t.casefold() not in {a.casefold() for a in listed})
            if new:
                listed.extend(new)
                lines[index] = json.dumps(entry, ensure_ascii=False)
                changed += 1
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="store_true", help="write them into the taxonomy")
    parser.add_argument("--min-negatives", type=int, default=3)
    parser.add_argument("--ratio", type=float, default=3.0)
    args = parser.parse_args()
    weak = weak_terms(args.min_negatives, args.ratio)
    print(f"{sum(len(v) for v in weak.values())} terms in {len(weak)} taxa")
    if args.apply:
        print(f"{apply(weak)} taxon entries updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
