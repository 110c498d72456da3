"""Guess the kind of specimen an ad offers from the words that matched.

CITES distinguishes live animals and plants, raw parts (tusks, horns, skins), worked items
(carvings, jewellery) and derivatives (powders, oils, medicines). Reports need the kind;
the words of the matched terms usually say it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from cites_guard.assessment import Specimen
from cites_guard.detectors import Hit
from cites_guard.normalize import normalize_term
from cites_guard.taxonomy import Taxon

__all__ = ["ad_words", "guess_specimen"]

_WORKED = (
    "carving", "carved", "bangle", "bracelet", "beads", "bead", "necklace", "pendant",
    "figurine", "statue", "netsuke", "okimono", "chopsticks", "seal", "comb", "handle",
    "cup", "box", "jewelry", "jewellery", "ring", "earrings", "hanko", "inro", "scrimshaw",
    "furniture", "chair", "table", "bowl", "guitar", "bag", "handbag", "belt", "wallet",
    "boots", "watch strap", "sculpture", "rosary", "mala", "brooch", "frame", "手镯", "雕",
    "摆件", "手串", "珠", "印章", "根付", "彫", "家具", "รูปแกะสลัก", "กำไล",
)  # fmt: skip
_DERIVATIVE = (
    "powder", "oil", "wine", "bile", "extract", "capsule", "capsules", "pills", "tea",
    "ointment", "balm", "glue", "cream", "essence", "incense", "perfume", "caviar", "粉",
    "油", "酒", "胆", "膏", "丸", "香",
)  # fmt: skip
_RAW = (
    "tusk", "tusks", "horn", "horns", "scales", "scale", "skin", "hide", "pelt", "bone",
    "bones", "teeth", "tooth", "claw", "claws", "fin", "fins", "shell", "casque", "maw",
    "feathers", "feather", "skull", "root", "roots", "chips", "log", "logs", "timber",
    "plank", "wood", "牙", "角", "片", "皮", "骨", "翅", "甲", "壳",
)  # fmt: skip
_LIVE = (
    "live", "alive", "baby", "babies", "chick", "chicks", "juvenile", "hatchling", "pair",
    "male", "female", "tame", "hand fed", "handfed", "breeder", "seedling", "seedlings",
    "plant", "plants", "cb", "captive bred", "pet", "活体", "幼体", "苗",
)  # fmt: skip

_TABLES: tuple[tuple[Specimen, frozenset[str]], ...] = (
    ("worked item", frozenset(normalize_term(w) for w in _WORKED)),
    ("derivative", frozenset(normalize_term(w) for w in _DERIVATIVE)),
    ("raw part", frozenset(normalize_term(w) for w in _RAW)),
    ("live", frozenset(normalize_term(w) for w in _LIVE)),
)


_WIDE_CHARACTERS = re.compile("[\u2e80-\U0010ffff]")  # CJK and beyond: a character is a word
#: The two-word entries of the vocabulary ("hand fed"), each with a whole-word pattern.
_PHRASES = tuple(
    (phrase, re.compile(rf"(?<!\S){re.escape(phrase)}(?!\S)"))
    for _, vocabulary in _TABLES
    for phrase in sorted(vocabulary)
    if " " in phrase
)


#: Every word and character the tables hold: an ad's other words cannot change a guess.
_VOCABULARY = frozenset().union(*(vocabulary for _, vocabulary in _TABLES))
_VOCABULARY_WORDS = frozenset(word for word in _VOCABULARY if " " not in word)
_VOCABULARY_CHARACTERS = frozenset(
    word for word in _VOCABULARY if len(word) == 1 and _WIDE_CHARACTERS.match(word)
)


def ad_words(texts: Iterable[str]) -> frozenset[str]:
    """The vocabulary's words among normalised texts, for :func:`guess_specimen`.

    Whitespace-separated words, single CJK characters, and the two-word phrases the texts
    hold as whole words; only those of the vocabulary, since no other word changes a guess
    (and collecting every word of an 80-word ad cost more than the guess).

    Example:
        >>> sorted(ad_words(["hand fed baby grey", "象牙手镯 粉"]))
        ['baby', 'hand fed', '牙', '粉']
    """
    # One text, one split: a line break keeps a phrase from spanning two fields.
    text = "\n".join(texts)
    words = _VOCABULARY_WORDS.intersection(text.split())
    if _WIDE_CHARACTERS.search(text) is not None:
        words |= _VOCABULARY_CHARACTERS.intersection(text)
    for phrase, pattern in _PHRASES:
        if phrase in text and pattern.search(text) is not None:
            words |= {phrase}
    return words


def guess_specimen(
    hits: Sequence[Hit], taxon: Taxon, words: frozenset[str] = frozenset()
) -> Specimen | None:
    """The specimen kind the ad's words name, else the taxon's usual trade form.

    Args:
        hits: The hits for the taxon; their terms count as words of the ad.
        taxon: The matched taxon.
        words: The ad's normalised words (see :func:`ad_words`).

    Example:
        >>> from cites_guard.taxonomy import load_taxonomy
        >>> grey = load_taxonomy().get("Psittacus erithacus")
        >>> guess_specimen([], grey, ad_words(["hand fed baby grey"]))
        'live'
    """
    named: set[str] = set()  # the words of the matched terms
    for term in {hit.entry.term for hit in hits}:
        form = normalize_term(term)
        named.update(form.split())
        named.update(ch for ch in form if ord(ch) >= 0x2E80)
    for specimen, vocabulary in _TABLES:
        if not (vocabulary.isdisjoint(named) and vocabulary.isdisjoint(words)):
            return specimen
    if len(taxon.traded_as) == 1 or (taxon.traded_as and taxon.traded_as[0] == "live"):
        return taxon.traded_as[0]
    return None
