"""Hits and the evidence they become."""

from __future__ import annotations

import copy
import pickle

import pytest

from cites_guard import Guard, Listing
from cites_guard.assessment import Evidence
from cites_guard.detectors import Hit


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
    """Evidence built without validation equals, dumps, hashes, copies and pickles like
    the model pydantic validates from the same values."""
    for hit in hits:
        built = hit.to_evidence()
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
