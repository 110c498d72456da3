"""Fusion: one risk from the model's probability and the taxonomy evidence.

The model reads the whole ad; the evidence knows which taxon a term names and which cues
("faux", "mammoth ivory", "resin") explain it away. Neither is enough alone.

:class:`Fusion` weighs them with a logistic regression over a few features of both
(:data:`FEATURES`). ``cites-guard train`` fits it on the corpus calibration split, never on
evaluation data, and stores it in the model manifest, so the fused risk is itself a
calibrated probability. Why learned weights: the hand-set rule this replaces (evidence
raises the risk, any cue cuts it by 70 %) cleared more real offers than look-alikes on
held-out listings, because a model that has read "casque" in a hornbill ad already knows
it is no helmet.

:func:`rule_fusion` is that hand-set rule, kept for scorers that bring no fitted fusion
(the evidence-only scorer, a marketplace's own model, a model directory from before 1.1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cites_guard._evidence import EvidenceSummary

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FEATURES",
    "SURVIVING_MATCH",
    "Fusion",
    "FusionStage",
    "fusion_features",
    "rule_fusion",
    "sigmoid",
]

#: What the fitted fusion reads, in order.
FEATURES: tuple[str, ...] = (
    "model_logit",  # the model's calibrated probability, as a logit
    "evidence_risk",  # noisy-OR of every taxon match's confidence
    "strongest_match",  # confidence of the best single match
    "cue_without_match",  # a look-alike or negation cue, and no match survived it
    "cue_with_match",  # a cue, and a match survived it anyway
)

#: A taxon match this confident survives the cues in the ad.
SURVIVING_MATCH = 0.5
#: Rule fusion: how much evidence alone can raise a risk, 1-(1-p_model)(1-w*p_evidence).
EVIDENCE_WEIGHT = 0.5
#: Rule fusion: factor on the risk when cues are present and no match survived them.
LOOKALIKE_FACTOR = 0.3
_LOGIT_LIMIT = 1e-4  # probabilities are clipped to [1e-4, 1 - 1e-4] before the logit


class FusionStage(NamedTuple):
    """One fusion stage: the risk after it and why (becomes an ``Assessment`` step)."""

    stage: str
    risk: float
    detail: str


def _logit(probability: float) -> float:
    p = min(max(probability, _LOGIT_LIMIT), 1.0 - _LOGIT_LIMIT)
    return math.log(p / (1.0 - p))


def sigmoid(value: float) -> float:
    """The logistic function, without overflow for large negative values."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    z = math.exp(value)
    return z / (1.0 + z)


def _cues(evidence: EvidenceSummary) -> str:
    return ", ".join(sorted({e.text for e in evidence.lookalikes}))[:200]


def fusion_features(model_risk: float, evidence: EvidenceSummary) -> tuple[float, ...]:
    """The values of :data:`FEATURES` for one listing.

    Example:
        >>> from cites_guard._evidence import EvidenceSummary
        >>> fusion_features(0.5, EvidenceSummary((), (), 0.0, ()))
        (0.0, 0.0, 0.0, 0.0, 0.0)
    """
    cue = bool(evidence.lookalikes)
    survived = evidence.strongest >= SURVIVING_MATCH
    return (
        _logit(model_risk),
        evidence.risk,
        evidence.strongest,
        float(cue and not survived),
        float(cue and survived),
    )


class Fusion(BaseModel):
    """A fitted logistic regression: ``risk = sigmoid(bias + sum(w_i * feature_i))``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: tuple[str, ...] = Field(description="Feature names, in the order of weights.")
    weights: tuple[float, ...]
    bias: float

    @model_validator(mode="after")
    def _known_features(self) -> Fusion:
        if self.features != FEATURES:
            raise ValueError(
                f"fusion features {list(self.features)} are not the {list(FEATURES)} this "
                "version of cites-guard computes; retrain the model with this version"
            )
        if len(self.weights) != len(self.features):
            raise ValueError(
                f"fusion has {len(self.weights)} weights for {len(self.features)} features"
            )
        return self

    def probability(self, features: Sequence[float]) -> float:
        """The fused probability for the values of :data:`FEATURES`."""
        return sigmoid(self.bias + sum(w * v for w, v in zip(self.weights, features, strict=True)))

    def risk(self, model_risk: float, evidence: EvidenceSummary) -> float:
        """The fused probability that the ad offers a CITES specimen."""
        return self.probability(fusion_features(model_risk, evidence))

    def stages(self, model_risk: float, evidence: EvidenceSummary) -> list[FusionStage]:
        """The fusion stage, with the inputs that moved the risk named in its detail."""
        risk = self.risk(model_risk, evidence)
        parts = [f"model {model_risk:.2f}", f"evidence {evidence.risk:.2f}"]
        if evidence.lookalikes:
            survived = evidence.strongest >= SURVIVING_MATCH
            kept = "a taxon match survived them" if survived else "no taxon match survived them"
            parts.append(f"look-alike or negation cues ({_cues(evidence)}); {kept}")
        return [
            FusionStage(stage="fusion", risk=risk, detail="fitted fusion of " + "; ".join(parts))
        ]

    @classmethod
    def fit(
        cls,
        rows: Sequence[Sequence[float]],
        labels: Sequence[int],
        *,
        l2: float = 1e-2,
        iterations: int = 50,
    ) -> Fusion:
        """Fit by Newton's method with a small L2 penalty (deterministic, numpy only).

        Args:
            rows: :func:`fusion_features` of each calibration listing.
            labels: 1 when the listing offers a CITES specimen, else 0.
            l2: Ridge penalty on the weights (not the bias): keeps them finite when a
                feature separates the labels perfectly.
            iterations: Newton steps at most; it converges in about ten.
        """
        import numpy as np  # noqa: PLC0415

        features: npt.NDArray[np.float64] = np.asarray(rows, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(FEATURES):
            raise ValueError(f"fusion rows must have {len(FEATURES)} features each")
        target = np.asarray(labels, dtype=np.float64)
        design = np.hstack([features, np.ones((len(features), 1))])
        weights = np.zeros(design.shape[1])
        penalty = l2 * np.eye(design.shape[1])
        penalty[-1, -1] = 0.0  # the bias is not shrunk
        for _ in range(iterations):
            predicted = 1.0 / (1.0 + np.exp(-(design @ weights)))
            curvature = predicted * (1.0 - predicted)
            hessian = (
                design.T @ (design * curvature[:, None]) + penalty + 1e-9 * np.eye(design.shape[1])
            )
            gradient = design.T @ (predicted - target) + penalty @ weights
            step = np.linalg.solve(hessian, gradient)
            weights -= step
            if float(np.max(np.abs(step))) < 1e-10:
                break
        return cls(
            features=FEATURES,
            weights=tuple(round(float(w), 6) for w in weights[:-1]),
            bias=round(float(weights[-1]), 6),
        )


def rule_fusion(
    risk: float, evidence: EvidenceSummary, *, from_model: bool = True
) -> list[FusionStage]:
    """The hand-set rule: evidence raises a model's risk; cues no match survived cut it.

    Args:
        risk: The scorer's risk.
        evidence: The listing's evidence.
        from_model: False when the risk is the evidence's own (nothing to raise it by).

    Example:
        >>> from cites_guard._evidence import EvidenceSummary
        >>> [s.stage for s in rule_fusion(0.4, EvidenceSummary((), (), 0.8, ()))]
        ['fusion']
    """
    stages: list[FusionStage] = []
    fused = 1.0 - (1.0 - risk) * (1.0 - EVIDENCE_WEIGHT * evidence.risk)
    if from_model and fused > risk + 1e-6:
        stages.append(
            FusionStage(
                stage="fusion", risk=fused, detail="taxonomy evidence raises the model risk"
            )
        )
        risk = fused
    if evidence.lookalikes and evidence.strongest < SURVIVING_MATCH:
        stages.append(
            FusionStage(
                stage="lookalike",
                risk=risk * LOOKALIKE_FACTOR,
                detail=f"look-alike or negation cues: {_cues(evidence)}",
            )
        )
    return stages
