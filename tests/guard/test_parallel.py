from __future__ import annotations

from cites_guard import Guard, Listing
from cites_guard.batch import assess_parallel
from cites_guard.listing import MAX_FIELD_CHARS


def test_parallel_scoring_matches_in_process_and_keeps_truncation() -> None:
    """Worker processes give the same assessments, in order, and still say what was cut."""
    long_description = "Carved ivory bangle, heavy, old. " * (MAX_FIELD_CHARS // 20)
    listings = [
        Listing(id="long", title="Bangle", description=long_description),
        Listing(id="sofa", title="Grey three-seater sofa"),
        Listing(id="parrot", title="Hand-fed African grey parrot chick"),
    ]
    expected = list(Guard.default().assess_many(listings))
    got = list(assess_parallel(listings, workers=2, batch_size=1))
    assert [a.listing_id for a in got] == ["long", "sofa", "parrot"]
    assert got[0].truncated == ("description",)
    assert [(a.risk, a.decision) for a in got] == [(a.risk, a.decision) for a in expected]
