"""Which taxon an assessment names first when the terms and the model disagree."""

from __future__ import annotations

from collections.abc import Sequence

from cites_guard import Guard
from cites_guard.scoring import Prepared, Score
from cites_guard.taxonomy import GROUPS


class SureOfOneGroup:
    """A scorer that is sure the ad offers something of ``group``."""

    name = "fixed"
    version = "fixed-1"

    def __init__(self, group: str, risk: float = 0.9) -> None:
        self.group = group
        self.risk = risk

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        rest = (1.0 - 0.9) / (len(GROUPS) - 1)
        groups = {g: 0.9 if g == self.group else rest for g in GROUPS}
        return [Score(self.risk, groups, "fixed") for _ in batch]


def test_a_weak_term_does_not_name_the_taxon_against_a_sure_model() -> None:
    """ "solo" (a weak sturgeon term) loses to the parrot the model read; it stays listed."""
    guard = Guard(scorer=SureOfOneGroup("parrots"))
    result = guard.assess({"id": "a", "title": "Grigio in vendita, parla, solo", "lang": "it"})
    assert result.top_match is not None
    assert result.top_match.group == "parrots"
    assert result.top_match.evidence == ()  # named by the model, not by a term
    assert "fish" in {m.group for m in result.matches[1:]}


def test_a_strong_term_names_the_taxon_whatever_the_model_says() -> None:
    """ "pangolin scales" names Manis even when the model leans to another group."""
    guard = Guard(scorer=SureOfOneGroup("parrots"))
    result = guard.assess({"id": "b", "title": "Pangolin scales 1kg, solo", "lang": "en"})
    assert result.top_match is not None
    assert result.top_match.taxon == "Manis"


def test_of_two_equal_terms_the_one_in_the_models_group_goes_first() -> None:
    """Tortoiseshell and ivory are equally strong terms; the model's group breaks the tie."""
    title = "Tortoiseshell comb and ivory bangle"
    for group in ("elephants", "tortoises_turtles"):
        result = Guard(scorer=SureOfOneGroup(group)).assess({"id": "c", "title": title})
        assert result.top_match is not None
        assert result.top_match.group == group
        assert len(result.matches) >= 2  # nothing is dropped, only ordered


def test_below_review_the_model_names_no_taxon() -> None:
    """An ad the guard allows gets no model-named taxon."""
    guard = Guard(scorer=SureOfOneGroup("parrots", risk=0.1))
    result = guard.assess({"id": "d", "title": "Grigio in vendita, parla, solo", "lang": "it"})
    assert all(m.evidence for m in result.matches)
