"""Training: rebuild the shipped model (needs the ``train`` extra: torch and onnx).

Entry points: ``cites-guard train`` and :func:`train`.
"""

from __future__ import annotations

from cites_guard.training.pipeline import TrainingConfig, TrainingResult, split_of, train

__all__ = ["TrainingConfig", "TrainingResult", "split_of", "train"]
