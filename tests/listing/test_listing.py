from __future__ import annotations

import pytest
from pydantic import ValidationError

from cites_guard import Listing
from cites_guard.listing import MAX_FIELD_CHARS


def test_unknown_keys_are_ignored() -> None:
    """Marketplaces send whole ad records; keys cites-guard does not know are ignored."""
    listing = Listing.model_validate({"id": "1", "title": "x", "seller_rating": 4.5})
    assert listing.title == "x"


def test_integer_ids_and_lang_alias_are_accepted() -> None:
    """Integer ids become text and the dev-set key 'lang' fills 'language'."""
    listing = Listing.model_validate({"id": 17, "lang": "fr"})
    assert (listing.id, listing.language) == ("17", "fr")


def test_missing_id_is_rejected() -> None:
    """A listing without an id cannot be reported, so it is rejected."""
    with pytest.raises(ValidationError):
        Listing.model_validate({"title": "no id"})


def test_oversized_text_is_cut_and_flagged() -> None:
    """Text longer than the limit is truncated and the field is named, not rejected."""
    listing = Listing(id="1", description="x" * (MAX_FIELD_CHARS + 10))
    assert len(listing.description or "") == MAX_FIELD_CHARS
    assert listing.truncated_fields == ("description",)


def test_text_fields_name_every_text_source() -> None:
    """Captions and string attributes are searched and named like other fields."""
    listing = Listing(id="1", title="t", image_texts=("cap",), attributes={"material": "m", "n": 3})
    assert [name for name, _ in listing.text_fields()] == [
        "title",
        "image_texts[0]",
        "attributes.material",
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "ivory \ud83d bangle"},
        {"description": "x" * 500 + "\udfff"},
        {"image_texts": ["fine", "\ud800"]},
        {"attributes": {"material": "bone\udc00"}},
        {"attributes": {"k\ud801": "value"}},
    ],
)
def test_lone_surrogates_are_rejected_in_every_field(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="surrogate"):
        Listing.model_validate({"id": "1", **fields})


def test_paired_astral_characters_are_text() -> None:
    listing = Listing.model_validate({"id": "1", "title": "象牙 🐘 𠮷", "attributes": {"a": "🦏"}})
    assert listing.title == "象牙 🐘 𠮷"
