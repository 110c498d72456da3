"""Language detection: the fast path must give what a plain per-character count gives."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cites_guard._language import _STOPWORDS, base_language, detect_language
from cites_guard.dataset import read_labelled

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _script(char: str) -> str | None:
    code = ord(char)
    ranges = (
        (0x0400, 0x04FF, "ru"),
        (0x0600, 0x06FF, "ar"),
        (0x0E00, 0x0E7F, "th"),
        (0x3040, 0x30FF, "ja"),
        (0xAC00, 0xD7AF, "ko"),
        (0x4E00, 0x9FFF, "zh"),
    )
    for low, high, lang in ranges:
        if low <= code <= high:
            return lang
    return "latin" if char.isalpha() and code < 0x0250 else None


def naive_detect(text: str) -> str | None:
    """The reference: count every character's script, then vote with stopwords."""
    scripts = Counter(s for s in map(_script, text) if s)
    if not scripts:
        return None
    if scripts["ja"]:
        return "ja"
    top, _ = scripts.most_common(1)[0]
    if top != "latin":
        return top
    if any(ch in text for ch in "ăơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"):
        return "vi"
    words = [w.strip(".,!?;:()\"'").casefold() for w in text.split()]
    votes = Counter(lang for word in words for lang, stop in _STOPWORDS.items() if word in stop)
    return votes.most_common(1)[0][0] if votes else None


def test_detection_equals_the_naive_count_on_the_whole_corpus() -> None:
    """Every corpus ad gets the language the per-character reference gives."""
    texts = [
        " ".join(t for _, t in record.to_listing().text_fields())
        for path in sorted(CORPUS.glob("*.jsonl"))
        for record in read_labelled(path, [])
    ]
    assert len(texts) > 5000
    assert [detect_language(t) for t in texts] == [naive_detect(t) for t in texts]


_PIECES = st.sampled_from(
    list("abcdeéèàçñßłğış ,.!'")
    + list("ивлодкость")
    + list("عاجفيل")
    + list("ช้างงา")
    + list("ぞうげアイ")
    + list("象牙犀角")
    + list("상아")
    + list("ạảơư")
    + ["the ", "und ", "de ", "el ", "và ", "dan ", "na ", "ve ", "\ud800", "🐘", "\u0301"]
)
_MIXED = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_MIXED)
def test_detection_equals_the_naive_count_on_mixed_scripts(text: str) -> None:
    """Ties between scripts go to the one seen first, as in the reference."""
    assert detect_language(text) == naive_detect(text)


@pytest.mark.parametrize(
    ("hint", "base"), [("pt-BR", "pt"), ("EN", "en"), ("zh_Hant", "zh"), (" fr ", "fr")]
)
def test_a_language_hint_is_reduced_to_its_iso_639_1_part(hint: str, base: str) -> None:
    """Region and script subtags do not stop look-alike cues from applying."""
    assert base_language(hint) == base
