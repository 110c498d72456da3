"""CITES trade terms, and reading the specimen type and quantity an ad states.

The vocabulary is the one CITES annual trade reports use (term descriptions with their codes,
from the CITES *Guidelines for the preparation and submission of CITES annual reports*), so an
enforcement officer can put a report next to permits and seizure records without translation.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

__all__ = ["TRADE_TERM_CODES", "TradeTerm", "find_quantity", "trade_term"]

TradeTerm = Literal[
    "live", "body", "bone", "bone carving", "carving", "claw", "derivative", "egg", "extract",
    "feather", "garment", "hair", "horn", "horn carving", "ivory carving", "leather product",
    "meat", "medicine", "musk", "powder", "scales", "shell", "skin", "skin piece", "skull",
    "specimen", "teeth", "timber", "trophy", "tusk", "unspecified",
]  # fmt: skip

#: CITES trade-term code of each term (``None`` when the ad does not say).
TRADE_TERM_CODES: dict[str, str | None] = {
    "live": "LIV", "body": "BOD", "bone": "BON", "bone carving": "BOC", "carving": "CAR",
    "claw": "CLA", "derivative": "DER", "egg": "EGG", "extract": "EXT", "feather": "FEA",
    "garment": "GAR", "hair": "HAI", "horn": "HOR", "horn carving": "HOC",
    "ivory carving": "IVC", "leather product": "LPS", "meat": "MEA", "medicine": "MED",
    "musk": "MUS", "powder": "POW", "scales": "SCA", "shell": "SHE", "skin": "SKI",
    "skin piece": "SKP", "skull": "SKU", "specimen": "SPE", "teeth": "TEE", "timber": "TIM",
    "trophy": "TRO", "tusk": "TUS", "unspecified": None,
}  # fmt: skip

assert set(TRADE_TERM_CODES) == set(get_args(TradeTerm))  # noqa: S101 - import-time invariant

# Words (several languages, lower case) that name a term in an ad. Order matters: the first
# term whose words occur wins, so specific terms come before general ones.
_WORDS: tuple[tuple[TradeTerm, tuple[str, ...]], ...] = (
    ("tusk", ("tusk", "tusks", "défense", "défenses", "colmillo", "colmillos", "stoßzahn",
              "zanna", "presa")),
    ("scales", ("scale", "scales", "écailles", "escamas", "schuppen", "squame")),
    ("skull", ("skull", "crâne", "cráneo", "schädel", "cranio")),
    ("teeth", ("tooth", "teeth", "fang", "fangs", "dent", "dents", "diente", "zahn", "zähne")),
    ("claw", ("claw", "claws", "griffe", "garra", "kralle")),
    ("feather", ("feather", "feathers", "plume", "plumes", "pluma", "feder", "federn")),
    ("egg", ("egg", "eggs", "œuf", "oeufs", "huevo", "huevos", "ei", "eier")),
    ("shell", ("shell", "tortoiseshell", "carapace", "écaille", "caparazón", "panzer")),
    ("horn", ("horn", "horns", "corne", "cuerno", "corno")),
    ("skin", ("skin", "skins", "hide", "pelt", "fur", "peau", "piel", "fell", "pelle")),
    ("leather product", ("bag", "handbag", "belt", "wallet", "boots", "strap", "sac",
                         "ceinture", "bolso", "tasche", "gürtel")),
    ("bone", ("bone", "bones", "os", "hueso", "knochen", "osso")),
    ("meat", ("meat", "bushmeat", "viande", "carne", "fleisch")),
    ("powder", ("powder", "poudre", "polvo", "pulver")),
    ("medicine", ("medicine", "remedy", "pills", "médicament", "medicina", "arznei")),
    ("musk", ("musk", "musc", "almizcle", "moschus")),
    ("trophy", ("trophy", "trophée", "trofeo", "trophäe", "mount", "taxidermy")),
    ("timber", ("timber", "log", "logs", "plank", "planks", "lumber", "bois", "madera")),
    ("garment", ("coat", "jacket", "garment", "manteau", "abrigo", "mantel")),
    ("hair", ("hair", "poil", "pelo", "haar")),
    ("live", ("live", "alive", "vivant", "vivo", "lebend", "baby", "chick", "chicks")),
)  # fmt: skip

_CARVING_WORDS = frozenset(
    ("carving", "carved", "carvings", "figurine", "statue", "sculpture", "netsuke", "bangle",
     "bracelet", "sculpté", "tallado", "geschnitzt", "scolpito")
)  # fmt: skip
_IVORY_WORDS = frozenset(("ivory", "ivoire", "marfil", "elfenbein", "avorio"))
_HORN_WORDS = frozenset(("horn", "corne", "cuerno", "corno"))
_BONE_WORDS = frozenset(("bone", "os", "hueso", "knochen", "osso"))

_FALLBACK: dict[str | None, TradeTerm] = {
    "live": "live",
    "whole dead": "body",
    "worked item": "carving",
    "derivative": "derivative",
    "raw part": "unspecified",
    None: "unspecified",
}

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def trade_term(text: str, specimen: str | None) -> TradeTerm:
    """Return the CITES trade term an ad's text and the matched specimen category imply.

    Args:
        text: Title and description of the ad.
        specimen: The :class:`~cites_guard.assessment.Match` specimen category, if any.

    Example:
        >>> trade_term("Antique carved ivory figurine", "worked item")
        'ivory carving'
        >>> trade_term("pangolin scales 2 kg", None)
        'scales'
    """
    if specimen == "live":
        return "live"
    tokens = {t.lower() for t in _TOKEN.findall(text)}
    if tokens & _CARVING_WORDS:
        if tokens & _IVORY_WORDS:
            return "ivory carving"
        if tokens & _HORN_WORDS:
            return "horn carving"
        if tokens & _BONE_WORDS:
            return "bone carving"
    for term, words in _WORDS:
        if tokens.intersection(words):
            return term
    if tokens & _CARVING_WORDS:
        return "carving"
    return _FALLBACK.get(specimen, "unspecified")


_UNITS: dict[str, str] = {
    "kg": "kg", "kgs": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
    "g": "g", "gr": "g", "gram": "g", "grams": "g", "grammes": "g",
    "m3": "m3", "m³": "m3", "l": "l", "litre": "l", "liter": "l", "litres": "l", "ml": "ml",
    "pcs": "number", "pc": "number", "pieces": "number", "piece": "number", "units": "number",
    "pairs": "pairs", "pair": "pairs",
}  # fmt: skip

_QUANTITY = re.compile(
    r"(?<![\w.,])(\d{1,7}(?:[.,]\d{1,3})?)\s?("
    + "|".join(sorted(_UNITS, key=len, reverse=True))
    + r")(?!\w)",
    re.IGNORECASE,
)


def find_quantity(text: str) -> tuple[float | None, str | None]:
    """Return the first quantity and unit an ad states, or ``(None, None)``.

    Units are CITES report units (``kg``, ``g``, ``m3``, ``l``, ``ml``, ``pairs``, ``number``).

    Example:
        >>> find_quantity("Pangolin scales, 2,5 kg available")
        (2.5, 'kg')
        >>> find_quantity("ivory bangle")
        (None, None)
    """
    found = _QUANTITY.search(text)
    if found is None:
        return None, None
    return float(found.group(1).replace(",", ".")), _UNITS[found.group(2).lower()]
