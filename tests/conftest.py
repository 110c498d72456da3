"""Shared fixtures: guards are expensive to build, so tests share one per kind."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from cites_guard import Guard, Settings
from cites_guard.config import ModelSettings
from cites_guard.model import bundled_model_dir

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Tests stop the programs they start with Ctrl-C (SIGINT). A shell runs background jobs with
# SIGINT ignored, and a child inherits that, so restore Python's handler: the children then
# start with the default disposition, as they do from a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def evidence_guard() -> Guard:
    """A guard that scores from taxonomy evidence alone (no model)."""
    return Guard(settings=Settings(model=ModelSettings(enabled=False)))


@pytest.fixture(scope="session")
def guard() -> Guard:
    """The guard a marketplace gets from Guard.default(): bundled model and taxonomy."""
    return Guard.default()


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled model directory."""
    target = tmp_path / "model"
    shutil.copytree(bundled_model_dir(), target)
    return target
