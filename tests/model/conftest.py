"""Fixtures for model tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cites_guard.model import bundled_model_dir


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled model directory."""
    target = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), target)
    return target
