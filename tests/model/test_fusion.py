"""The fusion of the model's risk with the taxonomy evidence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cites_guard import Guard, Listing, ModelError, Settings
from cites_guard.config import ModelSettings
from cites_guard.fusion import FEATURES, Fusion, fusion_features
from cites_guard.model import OnnxScorer

LOOKALIKE_AD = {"id": "m", "title": "Mammoth ivory pendant, fossil, with papers", "language": "en"}


def _write_fusion(directory: Path, fusion: dict[str, object] | None) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.pop("fusion", None)
    if fusion is not None:
        manifest["fusion"] = fusion
    path.write_text(json.dumps(manifest))


def _guard(directory: Path) -> Guard:
    return Guard.default(Settings(model=ModelSettings(path=directory)))


def test_fit_recovers_the_weights_that_made_the_labels() -> None:
    """Newton's method finds the logistic regression behind synthetic labels."""
    rng = np.random.default_rng(7)
    rows = np.column_stack(
        [
            rng.normal(0, 3, 6000),
            rng.random(6000),
            rng.random(6000),
            rng.random(6000) < 0.2,
            rng.random(6000) < 0.1,
        ]
    ).astype(float)
    true_weights = np.array([1.0, 0.5, 2.0, -1.5, -0.8])
    logits = rows @ true_weights - 0.3
    labels = (rng.random(6000) < 1 / (1 + np.exp(-logits))).astype(int)
    fitted = Fusion.fit(rows.tolist(), labels.tolist(), l2=1e-6)
    assert np.allclose(fitted.weights, true_weights, atol=0.35)
    assert abs(fitted.bias + 0.3) < 0.35


def test_guard_uses_the_fusion_its_model_brings(model_copy: Path) -> None:
    """The risk is the manifest's regression over the model risk and the evidence."""
    weights = [1.0, 0.5, 2.0, -3.0, -1.0]
    _write_fusion(model_copy, {"features": list(FEATURES), "weights": weights, "bias": -0.25})
    guard = _guard(model_copy)
    result = guard.assess(LOOKALIKE_AD)
    prepared = guard.prepare(Listing.model_validate(LOOKALIKE_AD))
    model_risk = next(s.risk_after for s in result.steps if s.stage == "model")
    values = fusion_features(model_risk, prepared.evidence)
    expected = 1 / (
        1 + math.exp(-(-0.25 + sum(w * v for w, v in zip(weights, values, strict=True))))
    )
    assert result.risk == pytest.approx(expected, abs=2e-4)
    stages = [s.stage for s in result.steps]
    assert stages == ["evidence", "model", "fusion", "policy"]
    fusion_step = result.steps[2]
    assert "fitted fusion" in fusion_step.detail
    assert "mammoth ivory" in fusion_step.detail.casefold()


def test_without_a_fitted_fusion_the_hand_set_rule_applies(model_copy: Path) -> None:
    """A model directory from before fitted fusion still scores, with the rule's stages."""
    _write_fusion(model_copy, None)
    guard = _guard(model_copy)
    assert guard.fusion is None
    result = guard.assess(LOOKALIKE_AD)
    stages = [s.stage for s in result.steps]
    assert "lookalike" in stages
    lookalike = result.steps[stages.index("lookalike")]
    assert lookalike.risk_after == pytest.approx(lookalike.risk_before * 0.3, abs=2e-4)


def test_a_fusion_over_other_features_is_refused(model_copy: Path) -> None:
    """A manifest whose fusion reads features this version does not compute is refused."""
    _write_fusion(
        model_copy, {"features": ["model_logit", "price"], "weights": [1.0, 2.0], "bias": 0.0}
    )
    with pytest.raises(ModelError, match="retrain"):
        OnnxScorer(model_copy)
