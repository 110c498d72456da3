"""Cheap language detection: script first, then common words for Latin-script languages.

Good enough to label an assessment, pick report wording and decide which languages'
look-alike cues apply. Names, products and code words never depend on it: sellers mix
languages, and those terms of every language are searched in every ad.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np

__all__ = ["base_language", "detect_language"]

_STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the and for with from this that is are of to in new used sale selling buy",
        "fr": "le la les des et pour avec est une un du vends vente très neuf sur",
        "de": "der die das und mit für ist ein eine nicht von zu verkaufe neu sehr auf",
        "es": "el la los las y con para es una un del vendo por muy nuevo se",
        "pt": "o a os as e com para é uma um do da vendo não muito novo em",
        "it": "il lo la gli le e con per è una un del della vendo non molto nuovo",
        "nl": "de het een en met voor is van te koop nieuw niet zeer op",
        "pl": "i w z na do jest nie się sprzedam nowy bardzo od dla",
        "id": "dan yang untuk dengan ini jual harga bisa ada di ke baru",
        "ms": "dan yang untuk dengan ini jual harga boleh ada di ke baru sahaja",
        "sw": "na ya kwa wa ni la za bei inauzwa mpya hii kwenye",
        "tr": "ve bir için ile bu çok satılık fiyat yeni var da de",
        "vi": "bán và có cho của với này giá mới không là được",
    }.items()
}


#: Script ranges, as sorted bounds: code points in [bounds[2k], bounds[2k+1]) are language
#: _RANGE_LANGUAGES[k]. Kanji count as Chinese; any kana makes the text Japanese.
_BOUNDS = (0x0400, 0x0500, 0x0600, 0x0700, 0x0E00, 0x0E80, 0x3040, 0x3100, 0x4E00, 0xA000,
           0xAC00, 0xD7B0)  # fmt: skip
_RANGE_LANGUAGES = ("ru", "ar", "th", "ja", "zh", "ko")
_SCRIPT_NAMES = (None, *_RANGE_LANGUAGES, "latin")
_JAPANESE = _SCRIPT_NAMES.index("ja")
_LATIN = len(_SCRIPT_NAMES) - 1
_LATIN_END = 0x0250
_VIETNAMESE = re.compile("[ăơưđạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]")
#: Each stopword and the languages listing it, in the order of :data:`_STOPWORDS`.
_VOTERS: dict[str, tuple[str, ...]] = {}
for _lang, _words in _STOPWORDS.items():
    for _word in _words:
        _VOTERS[_word] = (*_VOTERS.get(_word, ()), _lang)


@cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """The range bounds, and which code points below U+0250 are letters."""
    latin = np.array([chr(c).isalpha() for c in range(_LATIN_END)], dtype=bool)
    return np.array(_BOUNDS, dtype=np.uint32), latin


def _top_script(text: str) -> str | None:
    """The script with the most letters (Japanese if any kana), the first seen of equals."""
    bounds, latin = _tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    slot = np.searchsorted(bounds, codes, side="right")
    labels = np.where(slot % 2 == 1, (slot + 1) // 2, 0)  # 1..6: a script range, 0: none
    low = codes < _LATIN_END
    labels[low] = np.where(latin[codes[low]], _LATIN, 0)
    counts = np.bincount(labels, minlength=_LATIN + 1)
    counts[0] = 0
    if counts[_JAPANESE]:
        return "ja"
    best = int(counts.max())
    if not best:
        return None
    tied = np.flatnonzero(counts == best)
    label = int(tied[0]) if len(tied) == 1 else int(labels[np.isin(labels, tied)][0])
    return _SCRIPT_NAMES[label]


def detect_language(text: str) -> str | None:
    """Guess the ISO 639-1 language of ``text``, or ``None`` when there is too little.

    Runs on every listing that gives no language, so it counts scripts with numpy in one
    pass and looks each word up once.

    Example:
        >>> detect_language("Vendo colmillo de marfil con certificado")
        'es'
        >>> detect_language("象牙の印鑑を売ります")
        'ja'
    """
    top = _top_script(text)
    if top is None:
        return None
    if top != "latin":
        return top
    if _VIETNAMESE.search(text):
        return "vi"
    votes: dict[str, int] = {}
    for word in text.split():
        for lang in _VOTERS.get(word.strip(".,!?;:()\"'").casefold(), ()):
            votes[lang] = votes.get(lang, 0) + 1
    if not votes:
        return None
    return max(votes, key=votes.__getitem__)


def base_language(hint: str) -> str:
    """The ISO 639-1 part of a language hint: ``pt-BR`` and ``PT_br`` are ``pt``.

    Example:
        >>> base_language("pt-BR")
        'pt'
    """
    return hint.replace("_", "-").split("-", 1)[0].strip().casefold()
