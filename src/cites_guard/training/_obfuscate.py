"""Disguise a word the way sellers do, to make obfuscated training examples.

The model reads normalised text, so most of these tricks are undone before it sees them;
training on them still teaches it the leftovers (a lone split, an unusual homoglyph) and
keeps the normaliser and the model honest with each other.
"""

from __future__ import annotations

import random

__all__ = ["obfuscate"]

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_HOMOGLYPH = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "y": "у", "x": "х", "i": "і"}
_SEPARATORS = (".", " ", "-", "*", "_", "·")
_CJK_SYMBOLS = ("☆", "/", "*", "·", "～", " ", "❤", "-")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")


def _is_cjk(word: str) -> bool:
    return any(
        0x3040 <= ord(c) <= 0x9FFF or 0xAC00 <= ord(c) <= 0xD7AF or 0x0E00 <= ord(c) <= 0x0E7F
        for c in word
    )


def obfuscate(word: str, rng: random.Random) -> str:
    """Return ``word`` disguised by one randomly chosen trick.

    Example:
        >>> obfuscate("ivory", random.Random(3)) != "ivory"
        True
    """
    if len(word) < 2:
        return word
    if _is_cjk(word):
        symbol = rng.choice(_CJK_SYMBOLS + _ZERO_WIDTH)
        return symbol.join(word)
    trick = rng.choice(("leet", "split", "homoglyph", "zero_width", "stretch", "caps_split"))
    if trick == "leet":
        out = "".join(_LEET.get(c, c) if rng.random() < 0.6 else c for c in word)
        return out if out != word else word.replace(word[0], _LEET.get(word[0], word[0]), 1)
    if trick == "split":
        return rng.choice(_SEPARATORS).join(word)
    if trick == "caps_split":
        return " ".join(word.upper())
    if trick == "homoglyph":
        return "".join(_HOMOGLYPH.get(c, c) if rng.random() < 0.5 else c for c in word)
    if trick == "zero_width":
        cut = rng.randrange(1, len(word))
        return word[:cut] + rng.choice(_ZERO_WIDTH) + word[cut:]
    # stretch: repeat one vowel (or any letter)
    index = next((i for i, c in enumerate(word) if c in "aeiou"), rng.randrange(len(word)))
    return word[: index + 1] + word[index] * rng.randint(2, 4) + word[index + 1 :]
