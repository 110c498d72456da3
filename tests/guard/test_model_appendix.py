"""The appendix an assessment reports when the words only name a mixed taxon."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cites_guard import Guard, PolicySettings, Settings
from cites_guard.scoring import Prepared, Score
from cites_guard.taxonomy import GROUPS, load_taxonomy


class AppendixScorer:
    """A scorer sure of an offer of ``group``, with a fixed Appendix I belief."""

    name = "fixed"
    version = "fixed-1"

    def __init__(self, group: str, appendix_one: float | None, risk: float = 0.95) -> None:
        self.group = group
        self.appendix_one = appendix_one
        self.risk = risk

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        rest = 0.1 / (len(GROUPS) - 1)
        groups = {g: 0.9 if g == self.group else rest for g in GROUPS}
        return [Score(self.risk, groups, "fixed", self.appendix_one) for _ in batch]


SPOTTED_SKIN = {"id": "s", "title": "Wild cat skin, spotted, full size", "lang": "en"}


def test_the_family_is_named_in_appendix_ii_without_the_models_belief() -> None:
    """With no Appendix I head (an older model), the family keeps its own appendix."""
    result = Guard(scorer=AppendixScorer("big_cats", None)).assess(SPOTTED_SKIN)
    assert result.top_match is not None
    assert result.top_match.taxon == "Felidae"
    assert result.top_match.appendix == "II"


def test_a_sure_appendix_i_head_makes_a_mixed_family_appendix_i() -> None:
    """The model reads a leopard, not a serval: Felidae is reported in Appendix I, with why."""
    result = Guard(scorer=AppendixScorer("big_cats", 0.9)).assess(SPOTTED_SKIN)
    assert result.top_match is not None
    assert result.top_match.taxon == "Felidae"
    assert result.top_match.appendix == "I"
    assert result.top_match.appendix_note is not None
    assert "p=0.90" in result.top_match.appendix_note


def test_a_doubtful_head_changes_nothing() -> None:
    """Below the threshold the family keeps Appendix II."""
    result = Guard(scorer=AppendixScorer("big_cats", 0.3)).assess(SPOTTED_SKIN)
    assert result.top_match is not None
    assert result.top_match.appendix == "II"


def test_a_named_species_keeps_its_own_appendix() -> None:
    """A species named outright is not re-read: the Hermann's tortoise stays in Appendix II."""
    listing = {"id": "h", "title": "Hermann's tortoise, 3 years", "lang": "en"}
    result = Guard(scorer=AppendixScorer("tortoises_turtles", 0.95)).assess(listing)
    assert result.top_match is not None
    assert result.top_match.taxon == "Testudo hermanni"
    assert result.top_match.appendix == "II"


def test_a_species_with_an_appendix_i_subspecies_keeps_its_own_appendix() -> None:
    """Boa constrictor is Appendix II though one subspecies is in Appendix I."""
    listing = {"id": "b", "title": "Boa constrictor, 2 years old, tame", "lang": "en"}
    result = Guard(scorer=AppendixScorer("snakes", 0.95)).assess(listing)
    assert result.top_match is not None
    assert result.top_match.taxon == "Boa constrictor"
    assert result.top_match.appendix == "II"


def test_the_belief_applies_only_to_the_group_the_model_reads() -> None:
    """A model sure of big cats says nothing about the appendix of a parrot genus."""
    listing = {"id": "p", "title": "Amazon parrot, hand reared, talks", "lang": "en"}
    result = Guard(scorer=AppendixScorer("big_cats", 0.95)).assess(listing)
    assert result.top_match is not None
    assert result.top_match.group == "parrots"
    assert result.top_match.appendix == "II"


def test_an_ad_below_the_review_threshold_is_not_re_read() -> None:
    """The head learnt from offers only: on an ad the model doubts it is not asked."""
    settings = Settings(policy=PolicySettings(review_threshold=0.8, block_threshold=0.95))
    guard = Guard(settings=settings, scorer=AppendixScorer("big_cats", 0.95, risk=0.05))
    result = guard.assess(SPOTTED_SKIN)
    assert result.risk < 0.8
    assert result.top_match is not None
    assert result.top_match.appendix == "II"


def test_a_model_named_taxon_keeps_saying_it_was_inferred() -> None:
    """With no term at all, the model's group is named, and both notes say what happened."""
    listing = {"id": "r", "title": "Beautiful rug, genuine, rare, must go", "lang": "en"}
    result = Guard(scorer=AppendixScorer("big_cats", 0.9)).assess(listing)
    assert result.top_match is not None
    assert result.top_match.evidence == ()
    assert result.top_match.appendix == "I"
    assert result.top_match.appendix_note is not None
    assert "inferred by the model" in result.top_match.appendix_note
    assert "the model reads one here" in result.top_match.appendix_note


@pytest.mark.parametrize(
    ("name", "holds"),
    [("Felidae", True), ("Primates", True), ("Testudo hermanni", False), ("Nonexistent", False)],
)
def test_which_taxa_hold_appendix_i_taxa(name: str, holds: bool) -> None:
    """Families and orders with Appendix I members below them, and nothing else."""
    assert load_taxonomy().holds_appendix_one(name) is holds
