"""Type-checked by mypy (strict) in CI: the public API used as a marketplace would."""

from __future__ import annotations

from collections.abc import Iterator

from cites_guard import Assessment, Guard, Listing, Settings
from cites_guard.config import ModelSettings


def _typed_usage() -> list[str]:
    guard: Guard = Guard(settings=Settings(model=ModelSettings(enabled=False)))
    one: Assessment = guard.assess({"id": "1", "title": "t"})
    many: Iterator[Assessment] = guard.assess_many([Listing(id="2", title="u")], batch_size=8)
    decisions: list[str] = [one.decision, *(a.decision for a in many)]
    return decisions


def test_typed_usage_runs() -> None:
    """The typed example runs and returns one decision per listing."""
    assert len(_typed_usage()) == 2
