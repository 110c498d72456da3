"""Hits and the evidence they become."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

from cites_guard import DetectorError, DetectorRegistry, Guard, Listing, TermEntry
from cites_guard.assessment import Evidence
from cites_guard.detectors import Hit, trusted_evidence
from cites_guard.normalize import NormalizedText
from cites_guard.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def hits() -> list[Hit]:
    guard = Guard.default()
    listing = Listing(
        id="x",
        language="en",
        title="Carved 1V0RY bangle, not resin",
        description="象牙手镯 and a mammoth ivory pendant; pangolin scales",
    )
    found, _ = guard.detectors.detect(listing)
    assert len(found) > 3
    return found


def test_evidence_of_a_hit_is_the_validated_model(hits: list[Hit]) -> None:
    """Evidence built without validation from the registry's hits equals, dumps, hashes,
    copies and pickles like the model pydantic validates from the same values."""
    for hit in hits:
        built = trusted_evidence(hit)
        validated = Evidence.model_validate(
            {
                "field": hit.field,
                "start": hit.start,
                "end": hit.end,
                "text": hit.text,
                "term": hit.entry.term,
                "kind": hit.entry.kind,
                "language": hit.entry.language,
                "obfuscated": hit.obfuscated,
            }
        )
        assert built == validated
        assert built.model_dump_json() == validated.model_dump_json()
        assert built.model_fields_set == validated.model_fields_set
        assert hash(built) == hash(validated)
        assert pickle.loads(pickle.dumps(built)) == validated  # noqa: S301 - our own object
        assert copy.deepcopy(built) == validated
        assert built.model_copy(update={"start": 0}).start == 0
        with pytest.raises(ValueError, match="frozen"):
            built.start = 1  # type: ignore[misc]


class _Sloppy:
    """A marketplace's own detector whose offsets are numpy integers, or negative."""

    def __init__(self, start: object) -> None:
        self.start = start

    def detect(self, field: str, view: NormalizedText) -> list[Hit]:
        if field != "title":
            return []
        entry = TermEntry("bangle", "product", "en", "Elephantidae")
        start = self.start
        return [Hit(field, start, 6, start, 6, entry, np.False_, view.original[0:6])]


def test_hits_of_other_detectors_are_checked_once_and_coerced() -> None:
    """Another detector's numpy offsets become Python ints in the evidence; a negative
    offset is refused with an error that names the detector."""
    registry = DetectorRegistry.from_taxonomy(load_taxonomy())
    registry.add(_Sloppy(np.int64(0)))
    listing = Listing(id="x", title="bangle of carved ivory")
    hits, _ = registry.detect(listing)
    sloppy = [h for h in hits if h.entry.term == "bangle" and h.start == 0]
    assert sloppy
    assert all(type(h.start) is int and type(h.obfuscated) is bool for h in sloppy)
    assert json.loads(trusted_evidence(sloppy[0]).model_dump_json())["start"] == 0
    broken = DetectorRegistry.from_taxonomy(load_taxonomy())
    broken.add(_Sloppy(-1))
    with pytest.raises(DetectorError, match="_Sloppy"):
        broken.detect(listing)
