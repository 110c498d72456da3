"""Render eval JSON into the metrics section of models/MODEL_CARD.md.

Usage: python tools/model_card_metrics.py DEV.json HELDOUT.json
(each from `cites-guard eval FILE --baseline keywords --json`). Replaces the text between
the metrics markers so the card's numbers always come from a real run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

CARD = Path(__file__).resolve().parent.parent / "models" / "MODEL_CARD.md"
START, END = "<!-- metrics:start -->", "<!-- metrics:end -->"


def _f(value: object) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _section(title: str, data: dict[str, Any]) -> str:
    guard: dict[str, Any] = data["guard"]
    base: dict[str, Any] = data.get("baseline", {})
    rows = [
        ("listings", guard["n"], base.get("n")),
        ("threshold", guard["threshold"], None),
        ("precision", guard["precision"], base.get("precision")),
        ("recall", guard["recall"], base.get("recall")),
        ("F1", guard["f1"], base.get("f1")),
        ("PR-AUC", guard["pr_auc"], base.get("pr_auc")),
        ("calibration error (ECE)", guard.get("calibration_error"), None),
    ]
    for key in ("plain", "coded", "obfuscated"):
        rows.append(
            (
                f"recall, {key}",
                guard["recall_by_difficulty"].get(key),
                base.get("recall_by_difficulty", {}).get(key),
            )
        )
    for key in ("hard_negative", "easy_negative"):
        rows.append(
            (
                f"false-positive rate, {key.replace('_', ' ')}s",
                guard["fpr_by_difficulty"].get(key),
                base.get("fpr_by_difficulty", {}).get(key),
            )
        )
    rows.append(("group accuracy (true positives)", guard["group_accuracy"], None))
    rows.append(("appendix accuracy (true positives)", guard["appendix_accuracy"], None))
    lines = [f"### {title}", "", "| figure | cites-guard | keyword baseline |", "|---|---|---|"]
    lines += [f"| {name} | {_f(a)} | {_f(b)} |" for name, a, b in rows]
    lines += ["", "Accuracy per language:", "", "| language | accuracy |", "|---|---|"]
    lines += [f"| {k} | {_f(v)} |" for k, v in guard["accuracy_by_language"].items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    sections = []
    for title, path in zip(
        (
            "Development set (shared/data/dev-listings.jsonl, never trained on)",
            "Held-out hand-written corpus (test split)",
        ),
        sys.argv[1:],
        strict=False,
    ):
        sections.append(_section(title, json.loads(Path(path).read_text(encoding="utf-8"))))
    card = CARD.read_text(encoding="utf-8")
    head, rest = card.split(START, 1)
    _, tail = rest.split(END, 1)
    CARD.write_text(head + START + "\n" + "\n".join(sections) + END + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
