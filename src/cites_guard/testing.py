"""Helpers for testing a cites-guard integration offline and deterministically.

- :class:`FixedScorer`: a scorer that returns the risk you choose (per listing id or for
  every listing), so a marketplace can test its allow / review / block handling without
  depending on what the real model thinks of its fixtures.
- :func:`guard_with_fixed_risk`: a :class:`~cites_guard.guard.Guard` using it, with the
  bundled taxonomy (so evidence, matches and spans are real).
- :class:`CapturingSender`: stands in for the enforcement endpoint and keeps every report
  the reporter sends, for assertions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cites_guard.config import Settings
from cites_guard.guard import Guard
from cites_guard.scoring import Prepared, Score

__all__ = ["FixedScorer", "guard_with_fixed_risk"]


class FixedScorer:
    """A scorer whose risk is set by the test.

    Example:
        >>> guard = guard_with_fixed_risk(0.95, by_id={"safe-1": 0.01})
        >>> guard.assess({"id": "ad-1", "title": "pangolin scales"}).decision
        'block'
        >>> guard.assess({"id": "safe-1", "title": "pangolin scales"}).decision
        'allow'
    """

    name = "fixed"
    version = "fixed-test-scorer"

    def __init__(self, risk: float = 0.0, *, by_id: Mapping[str, float] | None = None) -> None:
        """Score every listing ``risk``, or ``by_id[listing.id]`` when given."""
        self.risk = risk
        self.by_id = dict(by_id or {})
        self.calls = 0

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        """Return the configured risk for each listing."""
        self.calls += 1
        return [
            Score(self.by_id.get(item.listing.id, self.risk), {}, "fixed by test")
            for item in batch
        ]


def guard_with_fixed_risk(
    risk: float = 0.0, *, by_id: Mapping[str, float] | None = None, settings: Settings | None = None
) -> Guard:
    """A guard whose model stage always answers ``risk`` (taxonomy evidence stays real)."""
    return Guard(settings=settings, scorer=FixedScorer(risk, by_id=by_id))
