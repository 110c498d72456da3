"""Labelled listings: the format of evaluation sets, training corpora and ``--data`` files.

It is the format of ``shared/data/dev-listings.jsonl``: a listing plus ``label`` (1 when it
offers or seeks a CITES specimen), ``taxon``, ``appendix``, ``specimen``, ``difficulty`` and a
one-sentence ``rationale``. Reading is streaming and forgiving: a bad line becomes an
:class:`~cites_guard.errors.InputError` naming the line and field, and the rest is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cites_guard.assessment import Appendix, Specimen
from cites_guard.errors import InputError
from cites_guard.listing import Listing

__all__ = ["Difficulty", "LabelledListing", "read_labelled"]

Difficulty = Literal["plain", "coded", "obfuscated", "hard_negative", "easy_negative"]
POSITIVE_DIFFICULTIES = ("plain", "coded", "obfuscated")


class LabelledListing(BaseModel):
    """A listing with its ground truth."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    lang: str = Field(min_length=2, max_length=8)
    title: str
    description: str
    price: float | None
    currency: str | None
    category: str
    label: Literal[0, 1]
    taxon: str | None
    appendix: Appendix | None
    specimen: Specimen | None
    difficulty: Difficulty
    rationale: str
    source: str | None = Field(
        default=None, description="Where such an ad appears: classifieds, auction, social..."
    )

    @model_validator(mode="after")
    def _consistent(self) -> LabelledListing:
        if self.label == 1:
            if self.taxon is None or self.appendix is None or self.specimen is None:
                raise ValueError("a positive needs taxon, appendix and specimen")
            if self.difficulty not in POSITIVE_DIFFICULTIES:
                raise ValueError(f"a positive cannot have difficulty {self.difficulty!r}")
        else:
            if self.taxon is not None or self.appendix is not None or self.specimen is not None:
                raise ValueError("a negative has taxon, appendix and specimen null")
            if self.difficulty in POSITIVE_DIFFICULTIES:
                raise ValueError(f"a negative cannot have difficulty {self.difficulty!r}")
        if (self.price is None) != (self.currency is None):
            raise ValueError("price and currency are both set or both null")
        return self

    def to_listing(self) -> Listing:
        """The listing as a marketplace would send it, without its labels."""
        return Listing(
            id=self.id,
            title=self.title,
            description=self.description,
            price=self.price,
            currency=self.currency,
            category=self.category,
            language=self.lang,
        )

    @property
    def text(self) -> str:
        """Title, description and category, as one string (for overlap checks)."""
        return f"{self.title}\n{self.description}\n{self.category}"


def read_labelled(
    path: str | Path, errors: list[InputError] | None = None
) -> Iterator[LabelledListing]:
    """Stream labelled listings from a JSON Lines file.

    Args:
        path: The file.
        errors: When given, bad lines are appended here and skipped; when ``None`` the first
            bad line raises.

    Yields:
        Each valid record, in file order.

    Raises:
        InputError: A line is invalid and ``errors`` is ``None``.
    """
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
                yield LabelledListing.model_validate(record)
            except UnicodeDecodeError as exc:
                _fail(InputError(f"invalid UTF-8: {exc.reason}", record=number), errors)
            except json.JSONDecodeError as exc:
                _fail(InputError(f"not JSON: {exc.msg}", record=number), errors)
            except ValidationError as exc:
                _fail(InputError.from_validation(exc, record=number), errors)


def _fail(error: InputError, errors: list[InputError] | None) -> None:
    if errors is None:
        raise error
    errors.append(error)
