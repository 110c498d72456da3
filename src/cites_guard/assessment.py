"""What cites-guard says about one listing: risk, decision, matches and the evidence.

Every number in an :class:`Assessment` can be traced: :attr:`Assessment.steps` lists each
scoring stage with the risk before and after it, :attr:`Assessment.rule` names the policy rule
that turned the risk into a decision, and every :class:`Evidence` holds the exact slice of the
original field text that it points at.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Appendix",
    "Assessment",
    "Decision",
    "Evidence",
    "EvidenceKind",
    "Match",
    "ScoringStep",
    "Specimen",
]

Decision = Literal["allow", "review", "block"]
Appendix = Literal["I", "II", "III"]
EvidenceKind = Literal["species", "product", "code_word", "negation", "lookalike", "context"]
Specimen = Literal["live", "raw part", "worked item", "derivative", "whole dead"]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Evidence(BaseModel):
    """One span of the listing that influenced the assessment.

    ``text`` is always ``original[start:end]`` of the named field, whatever normalisation
    was needed to find it (split letters, homoglyphs, leetspeak, emoji).
    """

    model_config = _FROZEN

    field: str = Field(description="Field the span is in: title, description, image_texts[0]...")
    start: int = Field(ge=0, description="Start offset in the original field text.")
    end: int = Field(ge=0, description="End offset (exclusive) in the original field text.")
    text: str = Field(description="The exact original slice.")
    term: str = Field(description="The taxonomy term it matched, as authored.")
    kind: EvidenceKind
    language: str | None = Field(default=None, description="Language of the matched term.")
    obfuscated: bool = Field(
        default=False, description="True when the span only matched after de-obfuscation."
    )


class Match(BaseModel):
    """A CITES-listed taxon the listing appears to offer."""

    model_config = _FROZEN

    taxon: str = Field(description="Scientific name of the taxon (species, genus, family...).")
    rank: str
    common_name: str | None = None
    group: str = Field(description="Taxon group, e.g. elephants, parrots, timber.")
    appendix: Appendix
    appendix_note: str | None = Field(
        default=None, description="Split listing or annotation that may change the appendix."
    )
    specimen: Specimen | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = ()


class ScoringStep(BaseModel):
    """One stage of scoring and what it did to the risk."""

    model_config = _FROZEN

    stage: str = Field(description="evidence, model, fusion, lookalike, policy...")
    risk_before: float
    risk_after: float
    detail: str


class Assessment(BaseModel):
    """The verdict on one listing."""

    model_config = _FROZEN

    listing_id: str
    risk: float = Field(ge=0.0, le=1.0, description="Probability the ad offers a CITES specimen.")
    decision: Decision
    rule: str = Field(description="The policy rule that produced the decision.")
    matches: tuple[Match, ...] = Field(
        default=(), description="Taxa the ad points at, most likely first."
    )
    lookalikes: tuple[Evidence, ...] = Field(
        default=(), description="Negations and look-alike cues that lowered the risk."
    )
    group_scores: dict[str, float] = Field(
        default_factory=dict, description="Model probability per taxon group (when a model ran)."
    )
    steps: tuple[ScoringStep, ...] = ()
    model_version: str
    taxonomy_version: str
    language: str | None = Field(default=None, description="Language hinted or detected.")
    language_detected: bool = Field(
        default=False, description="True when language was detected rather than given."
    )
    truncated: tuple[str, ...] = Field(default=(), description="Fields cut to the size limit.")
    empty: bool = Field(default=False, description="True when the listing had no text at all.")

    @property
    def top_match(self) -> Match | None:
        """The most likely match (the first), or ``None``."""
        return self.matches[0] if self.matches else None
