"""The nightly re-score writes today's assessments and exactly the decisions that changed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from _load import load_example

from cites_guard import Assessment, Guard, ModelError
from cites_guard.scoring import Prepared, Score
from cites_guard.testing import guard_with_fixed_risk

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "nightly_rescore.py"
SAMPLE = REPO / "examples" / "listings.jsonl"

IVORY = "Carved ivory bangle, pre-ban"
NEUTRAL = "Blue ceramic vase"

#: listing id -> (title, today's fixed model risk, yesterday's decision and risk or None)
CASES: dict[str, tuple[str, float, tuple[str, float] | None]] = {
    "same-allow": (NEUTRAL, 0.01, ("allow", 0.02)),
    "allow-block": (IVORY, 0.99, ("allow", 0.3)),
    "review-allow": (NEUTRAL, 0.01, ("review", 0.55)),
    "block-review": (NEUTRAL, 0.6, ("block", 0.95)),
    "same-block": (IVORY, 0.99, ("block", 0.97)),
    "brand-new": (IVORY, 0.99, None),
}


rescore = load_example("nightly_rescore")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def today_guard() -> Guard:
    return guard_with_fixed_risk(0.01, by_id={k: risk for k, (_, risk, _) in CASES.items()})


@pytest.fixture
def night(tmp_path: Path) -> dict[str, Path]:
    export = [{"id": key, "title": title} for key, (title, _, _) in CASES.items()]
    export.insert(2, {"title": "an export line without an id"})
    previous = [
        {"listing_id": key, "decision": old[0], "risk": old[1], "model_version": "old-model"}
        for key, (_, _, old) in CASES.items()
        if old is not None
    ]
    previous.append({"listing_id": "sold-yesterday", "decision": "block", "risk": 0.99})
    return {
        "listings": _write_jsonl(tmp_path / "export.jsonl", export),
        "previous": _write_jsonl(tmp_path / "yesterday.jsonl", previous),
        "output": tmp_path / "today.jsonl",
        "changes": tmp_path / "changes.jsonl",
    }


def _argv(paths: dict[str, Path]) -> list[str]:
    return [arg for name, path in paths.items() for arg in (f"--{name}", str(path))]


def test_changes_file_lists_exactly_the_changed_decisions(
    today_guard: Guard, night: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Only listings whose decision changed are reported, with old and new decision and risk."""
    status = rescore.main(_argv(night), guard=today_guard)
    assert status == 1  # one export line was rejected; the rest were scored
    changes = {c["listing_id"]: c for c in _read_jsonl(night["changes"])}
    assert {k: (c["old_decision"], c["new_decision"]) for k, c in changes.items()} == {
        "allow-block": ("allow", "block"),
        "review-allow": ("review", "allow"),
        "block-review": ("block", "review"),
    }
    assert changes["allow-block"]["old_risk"] == 0.3
    assert changes["allow-block"]["new_risk"] >= 0.99
    assert (changes["allow-block"]["taxon"], changes["allow-block"]["appendix"]) == (
        "Elephantidae",
        "I",
    )
    assert changes["block-review"]["new_risk"] == 0.6
    assert changes["block-review"]["old_model_version"] == "old-model"
    today = [Assessment.model_validate(row) for row in _read_jsonl(night["output"])]
    assert [a.listing_id for a in today] == list(CASES)
    assert "record 3" in capsys.readouterr().err


def test_summary_counts_each_transition_and_names_the_listings(
    today_guard: Guard, night: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary counts every transition, new and vanished listings, and names each change."""
    rescore.main(_argv(night), guard=today_guard)
    text = night["changes"].with_suffix(".txt").read_text(encoding="utf-8")
    assert text == capsys.readouterr().out
    assert "6 listings scored, 1 rejected" in text
    assert "decisions changed: 3 (new listings: 1, no longer in the export: 1)" in text
    counts = {
        " ".join(line.split()[:3]): int(line.split()[3])
        for line in text.splitlines()
        if line.startswith("  ") and "->" in line and ":" not in line
    }
    assert counts == {
        "allow -> block": 1,
        "review -> block": 0,
        "allow -> review": 0,
        "block -> review": 1,
        "block -> allow": 0,
        "review -> allow": 1,
    }
    assert "allow-block: allow (0.30) -> block (" in text
    assert "block-review: block (0.95) -> review (0.60)" in text


def test_tonights_output_is_tomorrows_previous(
    today_guard: Guard, night: dict[str, Path], tmp_path: Path
) -> None:
    """Re-scoring with tonight's output as the previous file and the same guard changes nothing."""
    rescore.main(_argv(night), guard=today_guard)
    tomorrow = {
        **night,
        "previous": night["output"],
        "output": tmp_path / "tomorrow.jsonl",
        "changes": tmp_path / "tomorrow-changes.jsonl",
    }
    rescore.main(_argv(tomorrow), guard=today_guard)
    assert tomorrow["changes"].read_text(encoding="utf-8") == ""
    assert "decisions changed: 0 (new listings: 0, no longer in the export: 0)" in (
        tomorrow["changes"].with_suffix(".txt").read_text(encoding="utf-8")
    )


class _FailingScorer:
    """Scores the first batch, then fails like a broken model would."""

    name = "failing"
    version = "failing-1"

    def __init__(self) -> None:
        self.calls = 0

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        self.calls += 1
        if self.calls > 1:
            raise ModelError("model went away")
        return [Score(0.01, {}, "ok") for _ in batch]


def test_a_failed_run_leaves_previous_outputs_untouched(night: dict[str, Path]) -> None:
    """A run that fails half-way keeps the old output files and leaves no temporary files."""
    night["output"].write_text("yesterday's run\n", encoding="utf-8")
    with pytest.raises(ModelError):
        rescore.rescore(
            Guard(scorer=_FailingScorer()),
            listings=night["listings"],
            previous=night["previous"],
            output=night["output"],
            changes=night["changes"],
            batch_size=2,
        )
    assert night["output"].read_text(encoding="utf-8") == "yesterday's run\n"
    assert not night["changes"].exists()
    assert sorted(p.name for p in night["output"].parent.iterdir()) == [
        "export.jsonl",
        "today.jsonl",
        "yesterday.jsonl",
    ]


def test_command_line_reports_every_listing_whose_decision_moved(tmp_path: Path) -> None:
    """Run as a script on the sample, the changes file holds exactly the listings that moved."""
    ids = [json.loads(line)["id"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    previous = _write_jsonl(
        tmp_path / "yesterday.jsonl",
        [{"listing_id": i, "decision": "allow", "risk": 0.0} for i in ids],
    )
    paths = {
        "listings": SAMPLE,
        "previous": previous,
        "output": tmp_path / "today.jsonl",
        "changes": tmp_path / "changes.jsonl",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), *_argv(paths), "--no-model"],
        check=True,
        capture_output=True,
        text=True,
    )
    today = {row["listing_id"]: row["decision"] for row in _read_jsonl(paths["output"])}
    assert list(today) == ids
    moved = [i for i, decision in today.items() if decision != "allow"]
    assert moved
    assert [c["listing_id"] for c in _read_jsonl(paths["changes"])] == moved
    assert f"decisions changed: {len(moved)} " in done.stdout
