"""Rewrite a model directory's ONNX graph with the current exporter, keeping its weights.

Usage: python tools/reexport_model.py [MODEL_DIR] [--listings FILE.jsonl]
(needs the ``train`` extra; MODEL_DIR defaults to ``models``).

For a change to how the graph computes, not to what it computes: the weights are read back
from ``model.onnx`` (:func:`read_back`), exported again, and the new graph must give the old
one's outputs on every listing of ``--listings`` (default: the examples, lengthened and
padded into uneven batches) within 1e-5. Only then is ``model.onnx`` replaced and its
checksum updated in the manifest; nothing else in the manifest changes, because the model
does not: metrics, calibration and fusion stay true.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from cites_guard.listing import Listing
from cites_guard.model import OnnxScorer, create_session, file_sha256, model_text
from cites_guard.normalize import normalize
from cites_guard.training._export import OUTPUTS, export, read_back

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5


def _texts(path: Path) -> list[str]:
    """Model inputs from a JSONL file of listings: each ad whole, and its title alone."""
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        listing = Listing.model_validate_json(line)
        views = {field: normalize(text) for field, text in listing.text_fields()}
        texts.append(model_text(views))
        texts.append(model_text({"title": normalize(listing.title or "")}))
        texts.append(" ".join([model_text(views)] * 3))  # long enough to be truncated
    return [t for t in texts if t]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=REPO / "models")
    parser.add_argument("--listings", type=Path, default=REPO / "examples" / "listings.jsonl")
    args = parser.parse_args()

    directory: Path = args.directory
    old = directory / "model.onnx"
    encoder = OnnxScorer(directory)._encoder  # noqa: SLF001 - the scorer's own id matrices
    texts = _texts(args.listings)
    new = directory / "model.onnx.new"
    export(read_back(old), new)
    try:
        before, after = create_session(old), create_session(new)
        worst = 0.0
        for size in (1, 7, 64):
            for start in range(0, len(texts), size):
                ids = encoder.encode(texts[start : start + size])
                want = before.run(list(OUTPUTS), {"input_ids": ids})
                got = after.run(list(OUTPUTS), {"input_ids": ids})
                worst = max(
                    worst,
                    *(float(np.max(np.abs(g - w))) for g, w in zip(got, want, strict=True)),
                )
        if worst > TOLERANCE:
            print(f"refused: the new graph differs by {worst:.2e} (> {TOLERANCE})")
            return 1
        new.replace(old)
    finally:
        new.unlink(missing_ok=True)
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"]["model.onnx"] = file_sha256(old)
    manifest_path.write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"{old}: rewritten ({len(texts)} texts, largest output difference {worst:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
