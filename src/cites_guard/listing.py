"""The marketplace listing that cites-guard assesses.

A :class:`Listing` is what a seller typed, as the marketplace stores it. Input is forgiving on
purpose: unknown keys are ignored (marketplaces send their whole ad record), the dev-set key
``lang`` is accepted for ``language``, and text longer than :data:`MAX_FIELD_CHARS` is cut to
that length and the cut is recorded, so one pathological ad cannot stall a pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr, field_validator

__all__ = ["MAX_FIELD_CHARS", "Listing"]

#: Longest text kept per field. Real ads are far shorter; longer text is cut and flagged.
MAX_FIELD_CHARS = 20_000

#: Fields whose text is searched for evidence, in reading order.
TEXT_FIELDS = ("title", "description", "category")


class Listing(BaseModel):
    """One marketplace ad.

    Only ``id`` is required. Every text field is optional because real ads are sparse.

    Example:
        >>> ad = Listing(id="ad-1", title="Carved ivory bangle", price=120, currency="EUR")
        >>> ad.title
        'Carved ivory bangle'
        >>> Listing.model_validate({"id": 7, "lang": "fr", "seller_rating": 5}).language
        'fr'
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)

    id: str = Field(min_length=1, max_length=512, description="The marketplace's listing id.")
    title: str | None = None
    description: str | None = None
    price: float | None = Field(default=None, allow_inf_nan=False)
    currency: str | None = Field(default=None, max_length=16)
    category: str | None = None
    seller_id: str | None = Field(default=None, max_length=512)
    country: str | None = Field(default=None, max_length=64)
    language: str | None = Field(
        default=None,
        max_length=16,
        validation_alias=AliasChoices("language", "lang"),
        description="Language hint (ISO 639-1); detected when absent.",
    )
    url: str | None = Field(default=None, max_length=4096)
    image_texts: tuple[str, ...] = Field(
        default=(), description="Captions, alt text or OCR text of the ad's images."
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Free-form marketplace attributes (brand, material...)."
    )

    _truncated: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        """Accept integer ids, which many marketplaces use, as their decimal text."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator(
        "title", "description", "category", "currency", "seller_id", "country", "language",
        "url", "image_texts", "attributes",
    )  # fmt: skip
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        """Reject lone surrogates: they are not text and cannot be written out as UTF-8."""
        if _has_lone_surrogate(value):
            raise ValueError("contains a lone surrogate (invalid Unicode)")
        return value

    @field_validator("image_texts", mode="before")
    @classmethod
    def _one_text_is_a_list(cls, value: object) -> object:
        """Accept a single caption string as a one-element list."""
        if isinstance(value, str):
            return (value,)
        return value

    def model_post_init(self, context: Any, /) -> None:
        """Cut over-long text fields to :data:`MAX_FIELD_CHARS` and remember which were cut."""
        del context
        cut: list[str] = []
        for name in ("title", "description", "category"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FIELD_CHARS:
                object.__setattr__(self, name, value[:MAX_FIELD_CHARS])
                cut.append(name)
        if any(len(t) > MAX_FIELD_CHARS for t in self.image_texts):
            object.__setattr__(
                self, "image_texts", tuple(t[:MAX_FIELD_CHARS] for t in self.image_texts)
            )
            cut.append("image_texts")
        self._truncated = tuple(cut)

    @property
    def truncated_fields(self) -> tuple[str, ...]:
        """Names of the fields that were cut to :data:`MAX_FIELD_CHARS`."""
        return self._truncated

    def text_fields(self) -> Iterator[tuple[str, str]]:
        """Yield ``(field, text)`` for every non-empty text the ad carries.

        Field names are those used in evidence: ``title``, ``description``, ``category``,
        ``image_texts[0]``..., and ``attributes.<key>`` for string attributes.
        """
        for name in TEXT_FIELDS:
            value = getattr(self, name)
            if value:
                yield name, value
        for i, text in enumerate(self.image_texts):
            if text:
                yield f"image_texts[{i}]", text
        yield from _string_attributes(self.attributes)

    def field_text(self, field: str) -> str:
        """Return the text of a field as named in evidence (see :meth:`text_fields`)."""
        for name, text in self.text_fields():
            if name == field:
                return text
        raise KeyError(field)


#: A lone surrogate; searched in C, since a Python loop over every character of every field
#: cost about 5% of scoring.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _string_attributes(attributes: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key, value in attributes.items():
        if isinstance(value, str) and value:
            yield f"attributes.{key}", value[:MAX_FIELD_CHARS]
