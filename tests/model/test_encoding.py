"""The word cache gives the tokenizer's own ids, truncation and padding included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from cites_guard._encoding import WordCachedEncoder
from cites_guard.dataset import read_labelled
from cites_guard.model import bundled_model_dir, load_tokenizer, model_text
from cites_guard.normalize import normalize

REPO = Path(__file__).resolve().parents[2]


def _reference(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    return np.array([e.ids for e in tokenizer.encode_batch_fast(texts)], dtype=np.int64)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return load_tokenizer(bundled_model_dir() / "tokenizer.json")


def test_corpus_ids_match_the_tokenizer(tokenizer: Tokenizer) -> None:
    """Every 4th corpus ad in 19 languages, in batches of 64, twice (cold, then cached)."""
    records = [
        record
        for path in sorted((REPO / "corpus").glob("*.jsonl"))
        for record in list(read_labelled(path))[::4]
    ]
    texts = [
        model_text({f: normalize(t) for f, t in r.to_listing().text_fields()}) for r in records
    ]
    assert len(texts) > 3000
    encoder = WordCachedEncoder(tokenizer)
    assert encoder.caches_words
    for _ in range(2):
        for start in range(0, len(texts), 64):
            batch = texts[start : start + 64]
            np.testing.assert_array_equal(encoder.encode(batch), _reference(tokenizer, batch))


@pytest.mark.parametrize(
    "texts",
    [
        [" ".join(["ivory"] * 400), "short"],  # truncated at the tokenizer's length
        ["", "象牙 手镯"],  # an empty text is all padding
        ["老料 手镯 " + "象牙手镯老料包浆雕刻" * 60, "a"],  # one unspaced word over the limit
        ["double  space", " leading", "trailing "],  # left to the tokenizer
        ["a | b", "| |"],
    ],
)
def test_edge_texts_match_the_tokenizer(tokenizer: Tokenizer, texts: list[str]) -> None:
    np.testing.assert_array_equal(
        WordCachedEncoder(tokenizer).encode(texts), _reference(tokenizer, texts)
    )


def test_a_full_cache_still_gives_the_tokenizers_ids(
    tokenizer: Tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the cache is full, new words are encoded each time and old ones still read."""
    monkeypatch.setattr("cites_guard._encoding.MAX_WORDS", 4)
    encoder = WordCachedEncoder(tokenizer)
    known = ["ivory bangle", "carved ivory"]
    np.testing.assert_array_equal(encoder.encode(known), _reference(tokenizer, known))
    texts = ["carved rhino horn cup", "ivory tiger bone wine", "bangle"]
    for _ in range(2):
        np.testing.assert_array_equal(encoder.encode(texts), _reference(tokenizer, texts))


def test_a_tokenizer_that_is_not_per_word_is_used_as_it_is() -> None:
    """Whitespace pre-tokenization splits punctuation too: no word cache then."""
    vocab = {"[UNK]": 0, "a": 1, "b": 2, ",": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))  # noqa: S106
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.enable_padding(pad_id=0)
    tokenizer.enable_truncation(max_length=8)
    encoder = WordCachedEncoder(tokenizer)
    assert not encoder.caches_words
    assert encoder.encode(["a,b", "b"]).tolist() == [[1, 3, 2], [2, 0, 0]]
