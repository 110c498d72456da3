"""Validate the bundled taxonomy and the hand-authored corpus; print coverage statistics.

Usage: python tools/check_data.py [taxonomy|corpus|all]
Exit status 1 when anything is invalid. Used by data authors after every append.
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

from cites_guard.dataset import read_labelled
from cites_guard.errors import CitesGuardError, InputError
from cites_guard.taxonomy import LANGUAGES, Taxonomy, _bundled_dir, _entries

ROOT = Path(__file__).resolve().parent.parent


def check_taxonomy() -> Taxonomy | None:
    try:
        taxa, lookalikes, cues = _entries([_bundled_dir()], [])
        taxonomy = Taxonomy(taxa, lookalikes, cues, version="check")
    except CitesGuardError as exc:
        print(f"TAXONOMY INVALID: {exc}")
        return None
    groups = collections.Counter(t.group for t in taxonomy.taxa)
    thin = [
        (t.name, len(t.names)) for t in taxonomy.taxa if len(set(t.names) | set(t.products)) < 15
    ]
    counts = (len(taxonomy.taxa), len(taxonomy.lookalikes), len(taxonomy.cues))
    print("taxa: {}  lookalikes: {}  cues: {}".format(*counts))
    print("per group:", dict(sorted(groups.items())))
    missing_lang = {
        lang: sum(1 for t in taxonomy.taxa if lang not in t.names) for lang in LANGUAGES
    }
    print("taxa without a name in:", {k: v for k, v in missing_lang.items() if v})
    if thin:
        print(f"taxa with names/products in fewer than 15 languages ({len(thin)}):", thin[:20])
    return taxonomy


def check_corpus(taxonomy: Taxonomy | None) -> bool:
    ok = True
    ids: set[str] = set()
    per_lang: collections.Counter[str] = collections.Counter()
    per_diff: collections.Counter[str] = collections.Counter()
    for path in sorted((ROOT / "corpus").glob("*.jsonl")):
        errors: list[InputError] = []
        for record in read_labelled(path, errors):
            if record.id in ids:
                print(f"{path.name}: duplicate id {record.id}")
                ok = False
            ids.add(record.id)
            per_lang[record.lang] += 1
            per_diff[record.difficulty] += 1
            if taxonomy is not None and record.taxon and taxonomy.get(record.taxon) is None:
                print(f"{path.name}: {record.id}: taxon {record.taxon!r} not in taxonomy (warning)")
        for error in errors:
            print(f"{path.name}: {error}")
            ok = False
    print(f"corpus records: {sum(per_lang.values())}")
    print("per language:", dict(sorted(per_lang.items())))
    print("per difficulty:", dict(sorted(per_diff.items())))
    return ok


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    taxonomy = check_taxonomy() if what in ("taxonomy", "all", "corpus") else None
    ok = taxonomy is not None or what == "corpus"
    if what in ("corpus", "all"):
        ok = check_corpus(taxonomy) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
