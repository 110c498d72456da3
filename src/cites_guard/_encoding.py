"""Token ids for the model, remembered word by word.

The bundled tokenizer splits its input at spaces and tokenises each word on its own
(``Metaspace`` with ``split``; no normaliser, no post-processor), so a text's ids are the
concatenation of its words' ids. Words repeat across ads far more than ads do, so a
dictionary from word to ids replaces most of the tokenizer's work: on the benchmark
listings, 6 µs an ad instead of 68 µs for ``encode_batch_fast``. Ids are the same, truncation
and padding included; a tokenizer built any other way is used as it is.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from tokenizers import Tokenizer

__all__ = ["WordCachedEncoder"]

#: Words remembered at most (a few MB); later words are encoded each time they come. The
#: cache only grows, so threads sharing a scorer never see an entry vanish.
MAX_WORDS = 50_000


class WordCachedEncoder:
    """Encode texts to a padded id matrix, as the tokenizer would, from per-word ids.

    Example:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> tok = Tokenizer(models.Unigram([("<pad>", 0.0), ("▁a", -1.0), ("▁b", -2.0)], 0))
        >>> tok.pre_tokenizer = pre_tokenizers.Metaspace()
        >>> tok.enable_padding(pad_id=0, pad_token="<pad>")
        >>> tok.enable_truncation(max_length=8)
        >>> WordCachedEncoder(tok).encode(["a b a", "b"]).tolist()
        [[1, 2, 1], [2, 0, 0]]
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        """Use ``tokenizer``; remember words only if its ids are per word (see module)."""
        self._tokenizer = tokenizer
        self._words: dict[str, list[int]] = {}
        sides = _right_side(tokenizer.padding, tokenizer.truncation)
        self._sides = sides if _per_word(json.loads(tokenizer.to_str())) else None

    @property
    def caches_words(self) -> bool:
        """Whether ids come from the word cache (else from the tokenizer directly)."""
        return self._sides is not None

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        """The ``[len(texts), longest]`` id matrix, padded on the right."""
        import numpy as np  # noqa: PLC0415

        if self._sides is None:
            encodings = self._tokenizer.encode_batch_fast(list(texts))
            return np.array([e.ids for e in encodings], dtype=np.int64)
        if any(text[:1] == " " or text[-1:] == " " or "  " in text for text in texts):
            # An empty "word" is not an empty string to the tokenizer: let it decide.
            encodings = self._tokenizer.encode_batch_fast(list(texts))
            return np.array([e.ids for e in encodings], dtype=np.int64)
        words = self._words
        split = [text.split(" ") for text in texts]
        missing = sorted(set().union(*split).difference(words))
        lookup = words.__getitem__
        if missing:
            # Padded to the longest missing word, on the right: keep each word's own ids.
            # (A word over the length limit is cut, as the text it is in would be.)
            encodings = self._tokenizer.encode_batch_fast(missing)
            fresh = {
                word: e.ids[: sum(e.attention_mask)]
                for word, e in zip(missing, encodings, strict=True)
            }
            if len(words) + len(fresh) <= MAX_WORDS:  # full: keep what is known, add nothing
                words.update(fresh)
            else:
                lookup = ChainMap(fresh, words).__getitem__
        limit, pad_id = self._sides
        # Each row's ids, joined in C: a Python loop over an ad's words cost as much again.
        rows = [list(chain.from_iterable(map(lookup, row)))[:limit] for row in split]
        matrix = np.full((len(rows), max(map(len, rows), default=0)), pad_id, np.int64)
        for index, ids in enumerate(rows):
            matrix[index, : len(ids)] = ids
        return matrix


def _per_word(config: dict[str, Any]) -> bool:
    """Whether the pipeline tokenises each space-separated word on its own."""
    pre = config.get("pre_tokenizer") or {}
    return (
        config.get("normalizer") is None
        and config.get("post_processor") is None
        and pre.get("type") == "Metaspace"
        and pre.get("split") is True
        and pre.get("prepend_scheme") == "always"
    )


def _right_side(
    padding: dict[str, Any] | None, truncation: dict[str, Any] | None
) -> tuple[int, int] | None:
    """``(max_length, pad_id)`` when padding and truncation both work on the right."""
    if padding is None or truncation is None:
        return None
    if (
        padding.get("direction") != "right"
        or padding.get("pad_to_multiple_of") is not None
        or truncation.get("direction") != "right"
        or truncation.get("stride", 0) != 0
    ):
        return None
    return int(truncation["max_length"]), int(padding["pad_id"])
