from __future__ import annotations

import json
from pathlib import Path

import pytest

from cites_guard import Settings
from cites_guard.cli import main
from cites_guard.dataset import LabelledListing
from cites_guard.evaluate import KeywordBaseline, Prediction, calibrate_threshold


def _record(i: int, label: int, title: str, difficulty: str) -> dict[str, object]:
    positive = label == 1
    return {
        "id": f"t-{i}",
        "lang": "en",
        "title": title,
        "description": "",
        "price": None,
        "currency": None,
        "category": "Collectibles > Other",
        "label": label,
        "taxon": "Elephantidae" if positive else None,
        "appendix": "I" if positive else None,
        "specimen": "worked item" if positive else None,
        "difficulty": difficulty,
        "rationale": "test",
    }


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    rows = [
        _record(1, 1, "Carved ivory bangle", "plain"),
        _record(2, 1, "i.v.o.r.y netsuke, old", "obfuscated"),
        _record(3, 0, "Ivory wedding dress size 12", "hard_negative"),
        _record(4, 0, "Garden hose 20m", "easy_negative"),
        _record(5, 1, "Pangolin scales, 1kg", "plain"),
    ]
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_eval_json_reports_every_figure(
    labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """eval --json gives precision, recall, per-difficulty, per-language and the baseline."""
    plot = tmp_path / "pr.html"
    assert (
        main(["eval", str(labelled), "--baseline", "keywords", "--json", "--plot", str(plot)]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    guard = report["guard"]
    for key in (
        "precision",
        "recall",
        "f1",
        "pr_auc",
        "recall_by_difficulty",
        "fpr_by_difficulty",
        "accuracy_by_language",
        "group_accuracy",
        "appendix_accuracy",
        "calibration_error",
        "threshold",
    ):
        assert key in guard
    assert guard["n"] == 5
    assert set(guard["recall_by_difficulty"]) == {"plain", "obfuscated"}
    assert "f1_gain_over_baseline" in report
    assert "<svg" in plot.read_text()


def test_keyword_baseline_flags_the_colour_ivory() -> None:
    """The baseline is a plain keyword list: it flags 'ivory' wedding dresses."""
    assert KeywordBaseline().flags("Ivory wedding dress")
    assert not KeywordBaseline().flags("1v0ry bangle")


def test_calibrate_writes_settings_that_reach_the_target(labelled: Path, tmp_path: Path) -> None:
    """calibrate writes a settings file whose threshold the guard then uses."""
    output = tmp_path / "tuned.toml"
    main(["calibrate", str(labelled), "--precision", "0.6", "-o", str(output)])
    text = output.read_text()
    assert "review_threshold" in text
    assert 0.0 <= Settings.from_file(output).policy.review_threshold <= 1.0


def test_calibrate_threshold_picks_the_lowest_that_reaches_precision() -> None:
    """The chosen threshold is the lowest score at which precision reaches the target."""

    def rec(i: int, label: int) -> LabelledListing:
        return LabelledListing.model_validate(
            _record(i, label, "x", "plain" if label else "easy_negative")
        )

    predictions = [
        Prediction(rec(i, label), score, flagged=False)
        for i, (label, score) in enumerate([(1, 0.9), (1, 0.8), (0, 0.7), (1, 0.6), (0, 0.2)])
    ]
    threshold, precision, recall = calibrate_threshold(predictions, 0.75)
    assert (threshold, precision, recall) == (0.6, 0.75, 1.0)
