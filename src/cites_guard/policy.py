"""Turn a risk and its matches into a decision, and say which rule decided."""

from __future__ import annotations

from collections.abc import Sequence

from cites_guard.assessment import Decision, Match
from cites_guard.config import PolicySettings

__all__ = ["Policy"]


class Policy:
    """The decision rules of :class:`~cites_guard.config.PolicySettings`.

    Example:
        >>> Policy(PolicySettings()).decide(0.3, [])
        ('allow', 'risk 0.30 < review threshold 0.50')
    """

    def __init__(self, settings: PolicySettings) -> None:
        """Use ``settings`` for every decision."""
        self.settings = settings

    def decide(
        self, risk: float, matches: Sequence[Match], *, empty: bool = False, cued: bool = False
    ) -> tuple[Decision, str]:
        """Return the decision for ``risk`` and the rule that produced it.

        Args:
            risk: The calibrated risk.
            matches: The taxon matches, most likely first.
            empty: The listing has no text.
            cued: The ad has look-alike or negation cues ("faux", "mammoth ivory").
        """
        s = self.settings
        if empty:
            return "allow", "listing has no text to assess"
        if risk < s.review_threshold:
            named = None if cued else self._named(matches)
            if named is not None:
                terms = ", ".join(sorted({e.text for e in named.evidence}))[:120]
                return "review", (
                    f"risk {risk:.2f} < review threshold {s.review_threshold:.2f}, but the ad "
                    f"names {named.taxon} outright ({terms}): a named taxon is always reviewed"
                )
            return "allow", f"risk {risk:.2f} < review threshold {s.review_threshold:.2f}"
        top = matches[0] if matches else None  # most likely first
        block_at = s.block_threshold
        rule = f"block threshold {block_at:.2f}"
        if top is not None and top.appendix in s.block_threshold_by_appendix:
            block_at = s.block_threshold_by_appendix[top.appendix]
            rule = f"Appendix {top.appendix} block threshold {block_at:.2f}"
        if risk >= block_at:
            if top is None and s.block_requires_match:
                return "review", f"risk {risk:.2f} >= {rule} but no taxon named: review"
            return "block", f"risk {risk:.2f} >= {rule}"
        return "review", f"risk {risk:.2f} >= review threshold {s.review_threshold:.2f}"

    def _named(self, matches: Sequence[Match]) -> Match | None:
        """The first match the ad's own words make at least ``review_named_at`` sure of."""
        floor = self.settings.review_named_at
        if floor is None:
            return None
        return next((m for m in matches if m.evidence and m.confidence >= floor), None)

    def should_report(self, decision: Decision) -> bool:
        """Whether a listing with this decision is sent to the enforcement endpoint."""
        return decision in self.settings.report_decisions
