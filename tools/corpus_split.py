"""Write one split of the hand-written corpus as labelled JSON Lines, for `cites-guard eval`.

Usage: python tools/corpus_split.py test > corpus-test.jsonl
(splits: train, calibration, test; the same stable hash of each id that training uses).
The model card's held-out figures come from the test split.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cites_guard.dataset import read_labelled
from cites_guard.training.pipeline import split_of

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    split = sys.argv[1] if len(sys.argv) > 1 else "test"
    if split not in ("train", "calibration", "test"):
        sys.stderr.write(f"unknown split {split!r}: use train, calibration or test\n")
        return 2
    for path in sorted((ROOT / "corpus").glob("*.jsonl")):
        for record in read_labelled(path, []):
            if split_of(record.id) == split:
                sys.stdout.write(record.model_dump_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
