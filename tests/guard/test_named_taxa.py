"""An ad that names a CITES taxon outright reaches a moderator even when the model doubts it."""

from __future__ import annotations

from collections.abc import Sequence

from cites_guard import Guard, Settings
from cites_guard.config import PolicySettings
from cites_guard.scoring import Prepared, Score


class Doubtful:
    """A scorer sure that nothing is wildlife (a model that a context word misled)."""

    name = "doubtful"
    version = "doubtful-1"

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        return [Score(0.02, {}, "doubtful") for _ in batch]


def test_a_named_product_is_reviewed_against_a_doubtful_model() -> None:
    """ "Ivory netsuke" is reviewed at risk 0.02; the rule says why."""
    result = Guard(scorer=Doubtful()).assess({"id": "a", "title": "Ivory netsuke, Meiji"})
    assert result.risk < 0.5
    assert result.decision == "review"
    assert "always reviewed" in result.rule


def test_a_lookalike_or_the_setting_lets_the_model_decide() -> None:
    """Mammoth ivory is explained away; with the rule off, the risk alone decides."""
    guard = Guard(scorer=Doubtful())
    assert guard.assess({"id": "b", "title": "Mammoth ivory netsuke"}).decision == "allow"
    off = Guard(scorer=Doubtful(), settings=Settings(policy=PolicySettings(review_named_at=None)))
    assert off.assess({"id": "c", "title": "Ivory netsuke, Meiji"}).decision == "allow"
