from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cites_guard import Guard, ModelError, ModelIntegrityError, Settings
from cites_guard.config import ModelSettings
from cites_guard.model import ROWS_PER_RUN, OnnxScorer, bundled_model_dir, load_manifest
from cites_guard.training._calibrate import fit_temperature

LISTINGS = [
    {"id": "a", "title": "Carved ivory bangle, estate find"},
    {"id": "b", "title": "iPhone 13, 128GB, blue"},
    {"id": "c", "title": "Hand-fed African grey parrot chick", "category": "Pets > Birds"},
    {"id": "d", "title": "Mammoth ivory pendant, fossil, with papers"},
    {"id": "e", "title": "Pangolin scales 1kg", "description": "dried, for medicine"},
    {"id": "f"},
    {"id": "g", "title": "Sofa", "description": "grey three-seater " * 40},
]


def test_bundled_model_is_complete_and_small() -> None:
    """The shipped model has its files, a valid manifest, and stays under 30 MB."""
    directory = bundled_model_dir()
    manifest = load_manifest(directory)
    total = sum((directory / name).stat().st_size for name in manifest.files)
    assert total < 30 * 1024 * 1024
    assert manifest.opset >= 13
    assert (directory / "MODEL_CARD.md").exists()


def test_appendix_head_is_mostly_right_on_held_out_offers() -> None:
    """The shipped Appendix I head beats guessing on the corpus test split (manifest figure).

    46% of those offers are Appendix I, so always answering one way scores at most 0.54.
    """
    metrics = load_manifest(bundled_model_dir()).metrics["test"]
    assert metrics["appendix_one_accuracy"] >= 0.75


def test_tampered_model_is_refused(model_copy: Path) -> None:
    """One flipped byte in model.onnx makes loading fail with an integrity error."""
    path = model_copy / "model.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        OnnxScorer(model_copy)


def test_tampered_tokenizer_is_refused(model_copy: Path) -> None:
    """An edited tokenizer is refused too."""
    path = model_copy / "tokenizer.json"
    path.write_text(path.read_text().replace("<unk>", "<UNK>", 1))
    with pytest.raises(ModelIntegrityError):
        Guard.default(Settings(model=ModelSettings(path=model_copy)))


@pytest.mark.parametrize("missing", ["manifest.json", "model.onnx"])
def test_missing_files_raise_model_error(model_copy: Path, missing: str) -> None:
    """A model directory without its manifest or weights raises ModelError."""
    (model_copy / missing).unlink()
    with pytest.raises(ModelError):
        OnnxScorer(model_copy)


def test_invalid_manifest_raises_model_error(model_copy: Path) -> None:
    """A manifest that does not validate raises ModelError naming the file."""
    (model_copy / "manifest.json").write_text(json.dumps({"name": "x"}))
    with pytest.raises(ModelError, match="manifest"):
        OnnxScorer(model_copy)


def test_manifest_with_other_groups_raises_model_error(model_copy: Path) -> None:
    """A manifest naming fewer groups than the model outputs is refused at load time."""
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["groups"] = manifest["groups"][:-1]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="different builds"):
        OnnxScorer(model_copy)


def test_manifest_naming_an_output_the_model_lacks_raises_model_error(
    model_copy: Path,
) -> None:
    """Files from different builds are refused at load time, not at the first score."""
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["outputs"] = [*manifest["outputs"], "taxon_logits"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="different builds"):
        OnnxScorer(model_copy)


def test_a_model_without_the_appendix_head_still_scores(model_copy: Path) -> None:
    """A manifest of two outputs (models built before the Appendix I head) scores as before."""
    path = model_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["outputs"] = ["logit", "group_logits"]
    path.write_text(json.dumps(manifest))
    older = OnnxScorer(model_copy).probabilities(["carved ivory bangle"])
    current = OnnxScorer().probabilities(["carved ivory bangle"])
    assert older[0].appendix_one is None
    assert current[0].appendix_one is not None
    assert older[0].risk == pytest.approx(current[0].risk)


def test_batching_does_not_change_scores(guard: Guard) -> None:
    """Scores are the same whatever the batch size, and order is kept."""
    reference = [a.risk for a in guard.assess_many(LISTINGS, batch_size=1)]
    for size in (2, 3, 64):
        results = list(guard.assess_many(LISTINGS, batch_size=size))
        assert [a.listing_id for a in results] == [item["id"] for item in LISTINGS]
        assert np.allclose([a.risk for a in results], reference, atol=1e-4)


def test_runs_of_rows_give_every_text_its_own_outputs() -> None:
    """Texts run ROWS_PER_RUN at a time, each run padded to its own longest text: over a
    run boundary, every text keeps the outputs it has alone, in order."""
    scorer = OnnxScorer()
    texts = [f"carved ivory bangle {'old ' * (i % 7)}lot {i}" for i in range(ROWS_PER_RUN * 2 + 3)]
    together = scorer.logits(texts)
    assert all(len(output) == len(texts) for output in together)
    assert [output.shape[0] for output in scorer.logits([])] == [0, 0, 0]
    for index in (0, ROWS_PER_RUN - 1, ROWS_PER_RUN, len(texts) - 1):
        alone = scorer.logits([texts[index]])
        for joint, single in zip(together, alone, strict=True):
            np.testing.assert_allclose(joint[index], single[0], atol=1e-5)


def test_model_ranks_real_above_lookalikes(guard: Guard) -> None:
    """The shipped model rates real wildlife products above their look-alikes and phones."""
    risks = {a.listing_id: a.risk for a in guard.assess_many(LISTINGS)}
    assert risks["a"] > risks["d"]
    assert risks["e"] > risks["b"]
    assert risks["c"] > risks["b"]
    assert min(risks["a"], risks["c"], risks["e"]) >= 0.5
    assert max(risks["b"], risks["g"]) < 0.5


def test_empty_listing_scores_allow(guard: Guard) -> None:
    """A listing with no text is allowed and flagged, with no model error."""
    result = guard.assess({"id": "empty"})
    assert (result.decision, result.empty, result.risk) == ("allow", True, 0.0)


def test_group_scores_are_a_distribution(guard: Guard) -> None:
    """The group head gives a probability per group that sums to one."""
    result = guard.assess(LISTINGS[4])
    assert result.group_scores
    assert abs(sum(result.group_scores.values()) - 1.0) < 1e-3
    assert max(result.group_scores, key=result.group_scores.__getitem__) == "pangolins"


def test_temperature_fit_recovers_overconfidence() -> None:
    """Calibration softens logits that are twice as confident as the labels justify."""
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, 4000).astype(np.float32)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-true_logits))).astype(np.float32)
    temperature, bias = fit_temperature(true_logits * 2, labels)
    assert 1.6 < temperature < 2.4
    assert abs(bias) < 0.2
