"""The scoring stage: how risky a listing is, before policy.

A :class:`Scorer` takes prepared listings (their normalised fields and evidence) in batches
and returns a :class:`Score` per listing. :class:`EvidenceScorer` scores from the taxonomy
evidence alone; :class:`~cites_guard.model.OnnxScorer` runs the bundled model. A marketplace
can plug in its own (a remote model, a rules engine) through ``Guard(scorer=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from cites_guard._evidence import EvidenceSummary
from cites_guard.listing import Listing
from cites_guard.normalize import NormalizedText

__all__ = ["EvidenceScorer", "Prepared", "Score", "Scorer", "top_group"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A listing ready to score: its normalised fields, its evidence and its language."""

    listing: Listing
    views: Mapping[str, NormalizedText]
    evidence: EvidenceSummary
    language: str | None = None
    """The listing's language hint, or the detected language when it gave none."""


@dataclass(frozen=True, slots=True)
class Score:
    """A scorer's verdict on one listing."""

    risk: float
    group_scores: dict[str, float] = field(default_factory=dict)
    detail: str = ""
    appendix_one: float | None = None
    """Probability that the specimen is of an Appendix I taxon, when the scorer knows it."""

    @property
    def top_group(self) -> str | None:
        """The taxon group the scorer believes most (``None`` without group scores)."""
        return top_group(self.group_scores)


def top_group(groups: Mapping[str, float]) -> str | None:
    """The group with the highest score, or ``None`` for no scores."""
    return max(groups, key=groups.__getitem__) if groups else None


@runtime_checkable
class Scorer(Protocol):
    """A replaceable scoring stage."""

    @property
    def name(self) -> str:
        """Short name shown in explanations (``evidence``, ``model``)."""
        ...

    @property
    def version(self) -> str:
        """Version recorded in every assessment."""
        ...

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        """Score a batch; one :class:`Score` per item, in order."""
        ...


class EvidenceScorer:
    """Risk from the taxonomy evidence alone: the noisy-OR of the match confidences."""

    name = "evidence"
    version = "evidence-1"

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        """Return the evidence risk of each item."""
        return [
            Score(
                item.evidence.risk,
                item.evidence.group_scores,
                f"{len(item.evidence.matches)} taxon match(es) from taxonomy terms",
            )
            for item in batch
        ]
