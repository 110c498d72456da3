"""Temperature scaling: make the model's probabilities mean what they say.

Fitted on the calibration split (never on evaluation data): find ``T`` and ``b`` that
minimise the log loss of ``sigmoid(logit / T + b)``. Two parameters cannot overfit a few
hundred examples the way isotonic regression can.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["fit_temperature"]


def _log_loss(
    logits: npt.NDArray[np.float32],
    labels: npt.NDArray[np.float32],
    temperature: float,
    bias: float,
) -> float:
    z = logits / temperature + bias
    # log(1 + exp(-z)) for positives, log(1 + exp(z)) for negatives, computed stably
    loss = np.logaddexp(0.0, np.where(labels > 0.5, -z, z))
    return float(np.mean(loss))


def fit_temperature(
    logits: npt.NDArray[np.float32], labels: npt.NDArray[np.float32]
) -> tuple[float, float]:
    """Return ``(temperature, bias)`` minimising log loss; ``(1.0, 0.0)`` without both classes.

    A coarse grid then a fine one: deterministic and dependency-free.

    Example:
        >>> logits = np.array([-4.0, -2.0, 2.0, 4.0], dtype=np.float32)
        >>> t, b = fit_temperature(logits, np.array([0, 0, 1, 1], dtype=np.float32))
        >>> t > 0
        True
    """
    if len(logits) == 0 or len(set(labels.tolist())) < 2:
        return 1.0, 0.0
    best = (float("inf"), 1.0, 0.0)
    for temperature in np.exp(np.linspace(np.log(0.2), np.log(10.0), 60)):
        for bias in np.linspace(-3.0, 3.0, 61):
            loss = _log_loss(logits, labels, float(temperature), float(bias))
            if loss < best[0]:
                best = (loss, float(temperature), float(bias))
    _, t0, b0 = best
    for temperature in np.linspace(t0 * 0.9, t0 * 1.1, 21):
        for bias in np.linspace(b0 - 0.1, b0 + 0.1, 21):
            loss = _log_loss(logits, labels, float(temperature), float(bias))
            if loss < best[0]:
                best = (loss, float(temperature), float(bias))
    return round(best[1], 5), round(best[2], 5)
