"""Cheap language detection: script first, then common words for Latin-script languages.

Good enough to label an assessment, pick report wording and decide which languages'
look-alike cues apply. Names, products and code words never depend on it: sellers mix
languages, and those terms of every language are searched in every ad.
"""

from __future__ import annotations

from collections import Counter

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


def _script(char: str) -> str | None:
    code = ord(char)
    if 0x0400 <= code <= 0x04FF:
        return "ru"
    if 0x0600 <= code <= 0x06FF:
        return "ar"
    if 0x0E00 <= code <= 0x0E7F:
        return "th"
    if 0x3040 <= code <= 0x30FF:
        return "ja"
    if 0xAC00 <= code <= 0xD7AF:
        return "ko"
    if 0x4E00 <= code <= 0x9FFF:
        return "zh"
    if char.isalpha() and code < 0x0250:
        return "latin"
    return None


def detect_language(text: str) -> str | None:
    """Guess the ISO 639-1 language of ``text``, or ``None`` when there is too little.

    Example:
        >>> detect_language("Vendo colmillo de marfil con certificado")
        'es'
        >>> detect_language("象牙の印鑑を売ります")
        'ja'
    """
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
    if not votes:
        return None
    return votes.most_common(1)[0][0]


def base_language(hint: str) -> str:
    """The ISO 639-1 part of a language hint: ``pt-BR`` and ``PT_br`` are ``pt``.

    Example:
        >>> base_language("pt-BR")
        'pt'
    """
    return hint.replace("_", "-").split("-", 1)[0].strip().casefold()
