"""The appendix an assessment reports when the words only name a mixed taxon."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cites_guard import Guard, PolicySettings, Settings
from cites_guard.assessment import Match
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


SPOTTED_SKIN = "Wild cat skin, spotted, full size"


def _top_match(title: str, group: str, appendix_one: float | None) -> Match:
    result = Guard(scorer=AppendixScorer(group, appendix_one)).assess(
        {"id": "t", "title": title, "lang": "en"}
    )
    assert result.top_match is not None
    return result.top_match


@pytest.mark.parametrize(
    ("title", "group", "appendix_one", "taxon", "appendix"),
    [
        # No Appendix I head (an older model): the family keeps its own appendix.
        (SPOTTED_SKIN, "big_cats", None, "Felidae", "II"),
        # A doubtful head changes nothing.
        (SPOTTED_SKIN, "big_cats", 0.3, "Felidae", "II"),
        # A species named outright is not re-read: the Hermann's tortoise stays Appendix II,
        ("Hermann's tortoise, 3 years", "tortoises_turtles", 0.95, "Testudo hermanni", "II"),
        # and so does Boa constrictor, though one of its subspecies is in Appendix I.
        ("Boa constrictor, 2 years old, tame", "snakes", 0.95, "Boa constrictor", "II"),
        # A model sure of big cats says nothing about the appendix of a parrot genus.
        ("Amazon parrot, hand reared, talks", "big_cats", 0.95, "Amazona", "II"),
    ],
)
def test_when_the_appendix_is_not_re_read(
    title: str, group: str, appendix_one: float | None, taxon: str, appendix: str
) -> None:
    """The first match keeps the appendix the taxonomy gives its taxon."""
    top = _top_match(title, group, appendix_one)
    assert (top.taxon, top.appendix) == (taxon, appendix)


def test_a_sure_appendix_i_head_makes_a_mixed_family_appendix_i() -> None:
    """The model reads a leopard, not a serval: Felidae is reported in Appendix I, with why."""
    top = _top_match(SPOTTED_SKIN, "big_cats", 0.9)
    assert (top.taxon, top.appendix) == ("Felidae", "I")
    assert top.appendix_note is not None
    assert "p=0.90" in top.appendix_note


def test_an_ad_below_the_review_threshold_is_not_re_read() -> None:
    """The head learnt from offers only: on an ad the model doubts it is not asked."""
    settings = Settings(policy=PolicySettings(review_threshold=0.8, block_threshold=0.95))
    guard = Guard(settings=settings, scorer=AppendixScorer("big_cats", 0.95, risk=0.05))
    result = guard.assess({"id": "s", "title": SPOTTED_SKIN, "lang": "en"})
    assert result.risk < 0.8
    assert result.top_match is not None
    assert result.top_match.appendix == "II"


def test_a_model_named_taxon_keeps_saying_it_was_inferred() -> None:
    """With no term at all, the model's group is named, and both notes say what happened."""
    top = _top_match("Beautiful rug, genuine, rare, must go", "big_cats", 0.9)
    assert top.evidence == ()
    assert top.appendix == "I"
    assert top.appendix_note is not None
    assert "inferred by the model" in top.appendix_note
    assert "the model reads one here" in top.appendix_note


@pytest.mark.parametrize(
    ("name", "holds"),
    [("Felidae", True), ("Primates", True), ("Testudo hermanni", False), ("Nonexistent", False)],
)
def test_which_taxa_hold_appendix_i_taxa(name: str, holds: bool) -> None:
    """Families and orders with Appendix I members below them, and nothing else."""
    assert load_taxonomy().holds_appendix_one(name) is holds
