"""Undo the tricks sellers use to hide words, keeping a map back to the original text.

Sellers write ``1v0ry``, ``i.v.o.r.y``, ``r h i n o``, ``ivooory``, mix Cyrillic letters into
Latin words (``іvоrу``), hide zero-width spaces inside words, split CJK words with symbols
(``象☆牙``) and let emoji stand for the animal (``🐘🦷``). :func:`normalize` turns all of that
into one plain, case- and accent-folded view whose every character remembers which span of
the original it came from, so evidence found in the view can quote the original exactly.

The same function normalises taxonomy terms, so a term and a disguised occurrence of it meet
in the same form.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["EMOJI_WORDS", "NormalizedText", "normalize", "normalize_term", "normalize_terms"]

# Character classes of the view.
_LATIN, _CYRILLIC, _GREEK, _OTHER, _UNSPACED, _DIGIT, _LEET, _SEP, _DROP = range(9)
_WORDLIKE = frozenset((_LATIN, _CYRILLIC, _GREEK, _OTHER, _DIGIT, _LEET))
_ALPHABETIC = frozenset((_LATIN, _CYRILLIC, _GREEK))

#: Emoji that sellers use for an animal or a part, and the English word they stand for.
EMOJI_WORDS: dict[str, str] = {
    "🐘": "elephant", "🦣": "mammoth", "🦷": "tooth", "🦏": "rhino", "🐯": "tiger",
    "🐅": "tiger", "🐆": "leopard", "🦁": "lion", "🐻": "bear", "🐼": "panda",
    "🐒": "monkey", "🐵": "monkey", "🦍": "gorilla", "🦧": "orangutan", "🦜": "parrot",
    "🦅": "eagle", "🦉": "owl", "🐢": "turtle", "🐊": "crocodile", "🐍": "snake",
    "🦎": "lizard", "🐸": "frog", "🦈": "shark", "🐋": "whale", "🐳": "whale",
    "🐬": "dolphin", "🦭": "seal", "🦦": "otter", "🦒": "giraffe", "🦛": "hippo",
    "🐠": "fish", "🐟": "fish", "🪸": "coral", "🦂": "scorpion", "🕷": "spider",
    "🦋": "butterfly", "🌵": "cactus", "🪵": "wood", "🐚": "shell", "🦚": "peacock",
    "🐦": "bird", "🦢": "swan", "🦩": "flamingo", "🐙": "octopus", "🐲": "dragon",
    "🐉": "dragon", "🦌": "deer", "🐃": "buffalo", "🐂": "ox", "🐄": "cow",
}  # fmt: skip

# Letters that look alike across scripts: Cyrillic and Greek forms of Latin letters.
_CYRILLIC_TO_LATIN = dict(zip("аеорсухкмтвнійјѕԁԛԝіїӏ", "aeopcyxkmtbhiijsdqwiil", strict=True))
_GREEK_TO_LATIN = dict(zip("αβεικνορτυχωγ", "abeiknoptuxwy", strict=True))
_LATIN_TO_CYRILLIC = {
    latin: cyr for cyr, latin in _CYRILLIC_TO_LATIN.items() if cyr in "аеорсухкмтвн"
}
_LEET_LETTERS = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "9": "g",
    "@": "a",
    "$": "s",
}

# Letters with no decomposition that still fold to a plain base letter.
_FOLD = {
    "đ": "d", "ð": "d", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe", "ı": "i", "ħ": "h",
    "þ": "th", "ŀ": "l", "ſ": "s",
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ـ": "",
}  # fmt: skip

_KEEP_CONTROLS = frozenset("\n\t\r")


_Maps = tuple[tuple[int, ...], tuple[int, ...], tuple[bool, ...]]
#: The maps as the fast paths build them: offsets in int64 arrays, one byte per flag. They
#: become tuples only when asked for as such; a detector reads a few spans of them.
_ArrayMaps = tuple["npt.NDArray[np.int64]", "npt.NDArray[np.int64]", bytes]


class NormalizedText:
    """A normalised view of ``original`` with, per view character, its source span.

    ``starts[k]`` and ``ends[k]`` give the span of ``original`` that view character ``k``
    came from; :meth:`source_span` maps a view span back to an original span. Immutable.

    The maps of the fast paths are built on first use, as arrays: most fields of most
    listings name nothing, and then only the view text is ever read; a field that names
    something has a few spans looked up (:meth:`locate`), not every offset turned into a
    Python object.
    """

    __slots__ = ("_build", "_maps", "_raw", "original", "text")

    original: str
    text: str

    def __init__(
        self, original: str, text: str, maps: _Maps | Callable[[], _Maps | _ArrayMaps]
    ) -> None:
        """A view of ``original``.

        ``maps`` is ``(starts, ends, obfuscated)``, or a function that computes them (as
        tuples, or as arrays) when they are first asked for.
        """
        self.original = original
        self.text = text
        self._maps: _Maps | None = None
        self._raw: _Maps | _ArrayMaps | None = None
        self._build: Callable[[], _Maps | _ArrayMaps] | None = None
        if callable(maps):
            self._build = maps
        else:
            self._maps = self._raw = maps

    def _get_raw(self) -> _Maps | _ArrayMaps:
        # Safe when threads share a view: at worst two of them build the same maps.
        raw = self._raw
        if raw is None:
            build = self._build
            if build is None:  # another thread built them just now (raw is set first)
                return self._get_raw()
            raw = self._raw = build()
            self._build = None  # let the builder's arrays go
        return raw

    def _get_maps(self) -> _Maps:
        maps = self._maps
        if maps is None:
            starts, ends, flags = self._get_raw()
            maps = self._maps = (
                starts if isinstance(starts, tuple) else tuple(starts.tolist()),
                ends if isinstance(ends, tuple) else tuple(ends.tolist()),
                tuple(map(bool, flags)),
            )
        return maps

    def __setattr__(self, name: str, value: object) -> None:
        """Refuse to change the text of a view once it is made (its hash depends on it)."""
        if name in ("original", "text") and hasattr(self, name):
            raise AttributeError(f"NormalizedText.{name} cannot be changed")
        object.__setattr__(self, name, value)

    @property
    def maps(self) -> _Maps:
        """``(starts, ends, obfuscated)`` at once, for code that reads many spans."""
        return self._get_maps()

    @property
    def starts(self) -> tuple[int, ...]:
        """Start offset in ``original`` of each view character."""
        return self._get_maps()[0]

    @property
    def ends(self) -> tuple[int, ...]:
        """End offset in ``original`` of each view character."""
        return self._get_maps()[1]

    @property
    def obfuscated(self) -> tuple[bool, ...]:
        """Whether each view character needed de-obfuscation to appear."""
        return self._get_maps()[2]

    def __eq__(self, other: object) -> bool:
        """Views are equal when the text, the view and every map agree."""
        if not isinstance(other, NormalizedText):
            return NotImplemented
        return (self.original, self.text, self._get_maps()) == (
            other.original,
            other.text,
            other._get_maps(),
        )

    def __hash__(self) -> int:
        """Hash of the original and the view (equal views have equal hashes)."""
        return hash((self.original, self.text))

    def __reduce__(self) -> tuple[type[NormalizedText], tuple[str, str, _Maps]]:
        """Pickle with the maps built (the deferred builder is a closure)."""
        return (NormalizedText, (self.original, self.text, self._get_maps()))

    def __repr__(self) -> str:
        """Shows the original and the view."""
        return f"NormalizedText(original={self.original!r}, text={self.text!r})"

    def source_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the view span ``[start, end)`` to the smallest covering original span.

        Example:
            >>> view = normalize("i.v.o.r.y")
            >>> view.text
            'ivory'
            >>> view.source_span(0, 5)
            (0, 9)
        """
        if start >= end:
            raise ValueError("empty span")
        return self.locate(start, end)[:2]

    def was_obfuscated(self, start: int, end: int) -> bool:
        """True when any character of the view span needed de-obfuscation to appear."""
        return any(self._get_raw()[2][start:end])

    def locate(self, start: int, end: int) -> tuple[int, int, bool]:
        """The original span of a non-empty view span, and whether it was disguised.

        What a detector's hit needs: the span of ``original`` that view characters
        ``[start, end)`` came from, and whether any of them needed de-obfuscation to appear.

        Example:
            >>> normalize("a 1v0ry box").locate(2, 7)
            (2, 7, True)
        """
        starts, ends, flags = self._get_raw()
        return int(starts[start]), int(ends[end - 1]), any(flags[start:end])


def _script_class(char: str) -> int:
    code = ord(char)
    if char.isdigit():
        return _DIGIT
    if char in "@$":
        return _LEET
    if not (char.isalpha() or unicodedata.category(char) in ("Mn", "Mc")):
        return _SEP
    if code < 0x0250 or 0x1E00 <= code <= 0x1EFF:
        return _LATIN
    if 0x0370 <= code <= 0x03FF:
        return _GREEK
    if 0x0400 <= code <= 0x052F:
        return _CYRILLIC
    if (
        0x0E00 <= code <= 0x0E7F  # Thai
        or 0x3040 <= code <= 0x30FF  # kana
        or 0x31F0 <= code <= 0x31FF
        or 0x3400 <= code <= 0x9FFF  # CJK ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0x1100 <= code <= 0x11FF
        or 0x3130 <= code <= 0x318F
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x3FFFF
    ):
        return _UNSPACED
    return _OTHER


def _is_droppable_mark(char: str) -> bool:
    """Combining marks that only decorate (accents, harakat, variation selectors)."""
    code = ord(char)
    return (
        code < 0x0700
        or 0x1AB0 <= code <= 0x1AFF
        or 0x1DC0 <= code <= 0x1DFF
        or 0x20D0 <= code <= 0x20FF
        or 0xFE00 <= code <= 0xFE0F
        or 0xFE20 <= code <= 0xFE2F
        or 0xE0100 <= code <= 0xE01EF
    )


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> tuple[tuple[str, int], ...]:
    """Fold one original character to zero or more ``(view char, class)`` pairs.

    NFKC, case folding and accent stripping, all per character so offsets stay exact.
    """
    if char in EMOJI_WORDS:
        return ((char, _SEP),)  # emoji are expanded by the caller
    category = unicodedata.category(char)
    if category in ("Cf", "Cs", "Co", "Cn") or (category == "Cc" and char not in _KEEP_CONTROLS):
        return ()
    if category in ("Mn", "Me") and _is_droppable_mark(char):
        return ()
    folded = unicodedata.normalize("NFKC", char).casefold()
    out: list[tuple[str, int]] = []
    for part in folded:
        # Strip accents only where they decorate (Latin, Greek, Cyrillic); NFD would split
        # Hangul syllables into jamo and kana into base + sound mark.
        code = ord(part)
        accented = code < 0x0530 or 0x1E00 <= code <= 0x1FFF
        decomposed = unicodedata.normalize("NFD", part) if accented else part
        for piece in decomposed:
            if unicodedata.category(piece) in ("Mn", "Me") and _is_droppable_mark(piece):
                continue
            piece = _FOLD.get(piece, piece)  # noqa: PLW2901 - folding in place reads best
            for letter in piece:
                if letter.isdigit() and not letter.isascii():
                    letter = str(unicodedata.digit(letter, 0))  # noqa: PLW2901
                out.append((letter, _script_class(letter)))
    return tuple(out)


@dataclass(slots=True)
class _Unit:
    char: str
    cls: int
    start: int
    end: int
    obfuscated: bool


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    for index, char in enumerate(text):
        word = EMOJI_WORDS.get(char)
        if word is not None:
            # An emoji becomes a spaced word; its letters all point at the emoji.
            units.append(_Unit(" ", _SEP, index, index + 1, obfuscated=True))
            units.extend(
                _Unit(letter, _LATIN, index, index + 1, obfuscated=True) for letter in word
            )
            units.append(_Unit(" ", _SEP, index, index + 1, obfuscated=True))
            continue
        folded = _fold_char(char)
        if not folded and unicodedata.category(char) == "Cf":
            # A zero-width character inside a word is a hiding trick: flag the neighbour.
            if units:
                units[-1].obfuscated = True
            continue
        for letter, cls in folded:
            units.append(_Unit(letter, cls, index, index + 1, obfuscated=False))
    return units


def _segments(units: list[_Unit]) -> list[tuple[int, list[_Unit]]]:
    """Group units into runs: words (spaced scripts), unspaced runs (CJK, Thai), separators."""
    segments: list[tuple[int, list[_Unit]]] = []
    for unit in units:
        kind = _UNSPACED if unit.cls == _UNSPACED else (_LATIN if unit.cls in _WORDLIKE else _SEP)
        if segments and segments[-1][0] == kind:
            segments[-1][1].append(unit)
        else:
            segments.append((kind, [unit]))
    return segments


def _fix_homoglyphs(word: list[_Unit]) -> None:
    """Map look-alike letters onto one script when a word mixes Latin, Cyrillic and Greek.

    The target is the script every letter of the word can be written in (``іvоrу`` can only
    be Latin, since ``v`` and ``r`` have no Cyrillic twin); when both can, the majority wins.
    """
    if len({u.cls for u in word} & _ALPHABETIC) < 2:
        return
    latin = sum(1 for u in word if u.cls == _LATIN)
    cyrillic = sum(1 for u in word if u.cls == _CYRILLIC)
    greek = sum(1 for u in word if u.cls == _GREEK)
    latin_ok = all(
        (u.cls != _CYRILLIC or u.char in _CYRILLIC_TO_LATIN)
        and (u.cls != _GREEK or u.char in _GREEK_TO_LATIN)
        for u in word
    )
    cyrillic_ok = greek == 0 and all(u.cls != _LATIN or u.char in _LATIN_TO_CYRILLIC for u in word)
    to_cyrillic = cyrillic_ok and (not latin_ok or cyrillic > latin)
    for unit in word:
        if to_cyrillic and unit.cls == _LATIN and unit.char in _LATIN_TO_CYRILLIC:
            unit.char, unit.cls, unit.obfuscated = _LATIN_TO_CYRILLIC[unit.char], _CYRILLIC, True
        elif not to_cyrillic and unit.cls == _CYRILLIC and unit.char in _CYRILLIC_TO_LATIN:
            unit.char, unit.cls, unit.obfuscated = _CYRILLIC_TO_LATIN[unit.char], _LATIN, True
        elif not to_cyrillic and unit.cls == _GREEK and unit.char in _GREEK_TO_LATIN:
            unit.char, unit.cls, unit.obfuscated = _GREEK_TO_LATIN[unit.char], _LATIN, True


def _fix_leet(word: list[_Unit]) -> None:
    """Read single digits and @/$ as letters inside words such as ``1v0ry`` or ``p4ngolin``.

    Only lone digits between or beside letters are read, in words with two or more Latin
    letters; a number with a unit (``19cm``, ``5kg``) stays a number.
    """
    if not any(u.cls in (_DIGIT, _LEET) for u in word):
        return
    if sum(1 for u in word if u.cls == _LATIN) < 2:
        return
    if word[0].cls == _DIGIT and all(u.cls in (_DIGIT, _LATIN) for u in word):
        first_letter = next(i for i, u in enumerate(word) if u.cls == _LATIN)
        if all(u.cls == _LATIN for u in word[first_letter:]) and len(word) - first_letter <= 3:
            return
    for i, unit in enumerate(word):
        if unit.cls not in (_DIGIT, _LEET) or unit.char not in _LEET_LETTERS:
            continue
        before = word[i - 1].cls if i > 0 else None
        after = word[i + 1].cls if i + 1 < len(word) else None
        if before in (_DIGIT, _LEET) or after in (_DIGIT, _LEET):
            continue
        unit.char, unit.cls, unit.obfuscated = _LEET_LETTERS[unit.char], _LATIN, True


def _collapse_repeats(word: list[_Unit]) -> list[_Unit]:
    """Fold runs of one repeated letter (``ivooory``, ``parrot``) to one letter.

    Terms are folded the same way, so ``parrot`` and ``parrrrot`` meet as ``parot``.
    """
    out: list[_Unit] = []
    run = 1
    for unit in word:
        if out and unit.cls in _ALPHABETIC and out[-1].char == unit.char:
            run += 1
            last = out[-1]
            last.end = unit.end
            if run >= 3:
                last.obfuscated = True
            continue
        run = 1
        out.append(unit)
    return out


_MAX_SPLIT_GAP = 3  # separator characters allowed between split letters: "i . v"


def _join_split_letters(segments: list[tuple[int, list[_Unit]]]) -> list[tuple[int, list[_Unit]]]:
    """Join ``r h i n o`` / ``i.v.o.r.y``: three or more one-letter words with short gaps."""
    out: list[tuple[int, list[_Unit]]] = []
    i = 0
    while i < len(segments):
        kind, units = segments[i]
        if kind == _LATIN and len(units) == 1 and units[0].cls in _ALPHABETIC:
            j = i
            letters = [units[0]]
            while (
                j + 2 < len(segments)
                and segments[j + 1][0] == _SEP
                and len(segments[j + 1][1]) <= _MAX_SPLIT_GAP
                and not any(u.char in "\n\r" for u in segments[j + 1][1])
                and segments[j + 2][0] == _LATIN
                and len(segments[j + 2][1]) == 1
                and segments[j + 2][1][0].cls in _ALPHABETIC
            ):
                letters.append(segments[j + 2][1][0])
                j += 2
            if len(letters) >= 3:
                for letter in letters:
                    letter.obfuscated = True
                out.append((_LATIN, letters))
                i = j + 1
                continue
        out.append((kind, units))
        i += 1
    return out


def _join_unspaced(segments: list[tuple[int, list[_Unit]]]) -> list[tuple[int, list[_Unit]]]:
    """Drop short separators between CJK/Thai runs (``象☆牙``, ``穿/山/甲``, ``ง า ช้ า ง``)."""
    out: list[tuple[int, list[_Unit]]] = []
    i = 0
    while i < len(segments):
        kind, units = segments[i]
        if (
            kind == _SEP
            and out
            and out[-1][0] == _UNSPACED
            and i + 1 < len(segments)
            and segments[i + 1][0] == _UNSPACED
            and len(units) <= _MAX_SPLIT_GAP
        ):
            merged = out[-1][1]
            nxt = segments[i + 1][1]
            # Symbols inside a word hide it; so do spaces that isolate single characters
            # ("象 牙", "ง า ช้ า ง"), unlike the spaces between Korean or Thai words.
            hidden = any(not u.char.isspace() for u in units) or min(len(merged), len(nxt)) == 1
            if hidden:
                merged[-1].obfuscated = True
                nxt[0].obfuscated = True
            merged.extend(nxt)
            i += 2
            continue
        out.append((kind, units))
        i += 1
    return out


def _ascii_class(char: str) -> str:
    """The class of an ASCII character for :data:`_ASCII_CLASSES`."""
    if char.isalpha():
        return "L"
    if char.isdigit():
        return "D"
    if char in "@$":
        return "T"
    if (char < " " and char not in "\t\n\r") or char == "\x7f":
        return "C"
    return "."


# ASCII text that may hold a trick the fast path does not undo: digits or @/$ touching letters
# (leetspeak), control characters, or three one-letter words in a row (split letters).
#: Byte classes for the first two: L(etter), D(igit), T (@ and $), C (a control character
#: the general path drops), "." anything else. A translated text is searched for "T", "C",
#: "LD" and "DL" five times faster than the text itself with one regular expression.
_ASCII_CLASSES = "".join(_ascii_class(chr(code)) for code in range(128)).encode() + b"." * 128
#: Searched in the text after one space, so that a split word may open the text.
_ASCII_SPLIT = re.compile(
    r"[^A-Za-z0-9][A-Za-z][^A-Za-z0-9\n\r]{1,3}[A-Za-z][^A-Za-z0-9\n\r]{1,3}[A-Za-z]"
    r"(?![A-Za-z0-9])"
)
_ASCII_SEPARATORS = re.compile(r"[^a-z0-9]+")
_ASCII_RUNS = re.compile(r"(?<=([a-z]))\1+")  # the repeats after a letter's first time
#: Characters from which the ASCII view is built with arrays: below, two regular
#: expressions cost less than setting the arrays up (5 against 9 µs for a title); above,
#: far more (31 against 11 µs for a 470-character description).
_ASCII_ARRAYS_FROM = 120


def _plain_ascii(text: str) -> bool:
    """Whether ``text`` is ASCII without the tricks only the general path undoes."""
    if not text.isascii():
        return False
    classes = text.encode("ascii").translate(_ASCII_CLASSES)
    if b"T" in classes or b"C" in classes or b"LD" in classes or b"DL" in classes:
        return False
    return _ASCII_SPLIT.search(f" {text}") is None


def _normalize_ascii(text: str) -> NormalizedText:
    """The same view as :func:`normalize` for plain ASCII (see :func:`_plain_ascii`).

    Lower case, every run of other characters than letters and digits one space, and each
    run of one repeated letter one letter. The offset maps wait until a detector finds
    something.
    """
    if len(text) < _ASCII_ARRAYS_FROM:
        view = _ASCII_RUNS.sub("", _ASCII_SEPARATORS.sub(" ", text.lower()))
        return NormalizedText(text, view, lambda: _maps_of(text))
    codes, letter, separator, kept = _ascii_units(text)
    folded = codes[kept]
    folded[separator[kept]] = ord(" ")
    return NormalizedText(
        text, folded.tobytes().decode("ascii"), lambda: _ascii_maps(codes, letter, kept)
    )


def _ascii_units(
    text: str,
) -> tuple[
    npt.NDArray[np.uint8], npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.int64]
]:
    """The lower-cased bytes of plain ASCII text, their letters, separators and kept ones.

    The view keeps each position but a separator after a separator and a letter after the
    same letter.
    """
    import numpy as np  # noqa: PLC0415

    codes = np.frombuffer(text.lower().encode("ascii"), dtype=np.uint8)
    letter = (codes >= ord("a")) & (codes <= ord("z"))
    separator = ~(letter | ((codes >= ord("0")) & (codes <= ord("9"))))
    repeated = np.zeros(len(codes), dtype=bool)
    repeated[1:] = (separator[1:] & separator[:-1]) | (letter[1:] & (codes[1:] == codes[:-1]))
    kept = np.flatnonzero(~repeated).astype(np.int64, copy=False)
    return codes, letter, separator, kept


def _ascii_maps(
    codes: npt.NDArray[np.uint8], letter: npt.NDArray[np.bool_], kept: npt.NDArray[np.int64]
) -> _ArrayMaps:
    """The offset maps of :func:`_ascii_units`' view.

    The same maps the vectorised path builds, without its per-character tables: a view
    character starts where it stands in the text and ends where its run of separators or
    of one repeated letter ends; runs of three letters or more are flagged.
    """
    import numpy as np  # noqa: PLC0415

    ends = np.empty(len(kept), dtype=np.int64)
    ends[:-1] = kept[1:]
    ends[-1:] = len(codes)
    flags = letter[kept] & (ends - kept >= 3)
    return kept, ends, flags.tobytes()


def _maps_of(text: str) -> _ArrayMaps:
    """The offset maps of plain ASCII text (see :func:`_plain_ascii`), from its bytes."""
    codes, letter, _, kept = _ascii_units(text)
    return _ascii_maps(codes, letter, kept)


_BMP = 0x10000
# Class letters of the vectorised path: L(atin), C(yrillic), G(reek), O(ther letters),
# U(nspaced: CJK, Thai, Hangul), D(igit that leetspeak reads as a letter), E (other digit),
# T (@ and $), S(eparator).
_CLASS_LETTER = {
    _LATIN: "L", _CYRILLIC: "C", _GREEK: "G", _OTHER: "O", _UNSPACED: "U", _LEET: "T", _SEP: "S",
}  # fmt: skip
# Class-letter patterns of text whose tricks only the general path undoes; each is a superset
# of what the general path would change. Written to start on a rare letter or to be possessive,
# so that a search costs a few microseconds, not tens.
#: A word mixing scripts (homoglyphs).
_MIXED_SCRIPTS = re.compile(r"L[LODET]*+[CG]|C[CODET]*+[LG]|G[GODET]*+[LC]")
#: A lone leetspeak digit (or @, $) touching a letter.
_LONE_LEET = re.compile(r"[DT](?:(?<=[LCGO][DT])(?![DET])|(?<![DET][DT])(?=[LCGO]))")
#: Three one-letter words in a row (split letters), searched after a leading "S".
_SPLIT_LETTERS = re.compile(r"[SU][LCG]S{1,3}[LCG]S{1,3}[LCG](?![LCGODET])")


def _has_tricks(classes: str) -> bool:
    """True when the general path may change what the vectorised path would write."""
    scripts = ("L" in classes) + ("C" in classes) + ("G" in classes)
    return (
        (scripts > 1 and _MIXED_SCRIPTS.search(classes) is not None)
        or (("D" in classes or "T" in classes) and any(map(_reads_leet, _leet_words(classes))))
        or _SPLIT_LETTERS.search("S" + classes) is not None
    )


_WORD_CLASSES = frozenset("LCGODET")


def _leet_words(classes: str) -> list[str]:
    """The class letters of each word holding a lone leetspeak digit that touches a letter."""
    words = []
    for match in _LONE_LEET.finditer(classes):
        start = end = match.start()
        while start > 0 and classes[start - 1] in _WORD_CLASSES:
            start -= 1
        while end < len(classes) and classes[end] in _WORD_CLASSES:
            end += 1
        words.append(classes[start:end])
    return words


def _reads_leet(word: str) -> bool:
    """Whether :func:`_fix_leet` reads a digit of a word (given as class letters) as a letter.

    It does not in words with fewer than two Latin letters (``x3``, ``5L``) or in a number
    with a short unit (``3ft``, ``19cm``).
    """
    if word.count("L") < 2:
        return False
    unit = word.lstrip("DE")
    return not (word[0] in "DE" and unit == "L" * len(unit) and len(unit) <= 3)


_MAX_FOLD = 3  # view characters one original character may fold to on the vectorised path
_UNSUPPORTED = 255  # width of a character only the general path handles
_UNKNOWN = 254  # width of a character not seen yet


class _CharTables:
    """Per-character fold and class for the Basic Multilingual Plane, learnt on first sight.

    A character folds to ``width`` view characters (0 for a dropped accent, 2 for ``ß`` or
    Thai ``ำ``), listed in ``fold`` with their class letters in ``letter``. Emoji and
    zero-width characters, which the general path treats specially, have width
    :data:`_UNSUPPORTED`.
    """

    __slots__ = ("alphabetic", "first_fold", "first_letter", "fold", "letter", "space", "width")

    def __init__(self) -> None:
        import numpy as np  # noqa: PLC0415 - the ASCII path, used for terms, does not need it

        self.fold = np.zeros((_BMP, _MAX_FOLD), dtype=np.uint32)
        self.letter = np.zeros((_BMP, _MAX_FOLD), dtype=np.uint8)
        self.first_fold = np.zeros(_BMP, dtype=np.uint32)  # column 0 of each, contiguous
        self.first_letter = np.zeros(_BMP, dtype=np.uint8)
        self.width = np.full(_BMP, _UNKNOWN, dtype=np.uint8)
        self.space = np.zeros(_BMP, dtype=bool)  # whitespace a folded separator can be
        self.space[[code for code in range(_BMP) if chr(code).isspace()]] = True
        # Per class letter: do its letters collapse when repeated (Latin, Cyrillic, Greek)?
        self.alphabetic = np.zeros(256, dtype=bool)
        self.alphabetic[[ord("L"), ord("C"), ord("G")]] = True

    def learn(self, codes: npt.NDArray[np.uint32]) -> None:
        """Fill in the characters of ``codes`` not seen before."""
        import numpy as np  # noqa: PLC0415

        for code in np.unique(codes[self.width[codes] == _UNKNOWN]).tolist():
            char = chr(code)
            folded = _fold_char(char)
            hides = not folded and unicodedata.category(char) == "Cf"
            if char in EMOJI_WORDS or hides or len(folded) > _MAX_FOLD:
                self.width[code] = _UNSUPPORTED
                continue
            for k, (letter, cls) in enumerate(folded):
                self.fold[code, k] = ord(letter)
                self.letter[code, k] = ord(_class_letter(letter, cls))
            self.first_fold[code] = self.fold[code, 0]
            self.first_letter[code] = self.letter[code, 0]
            # Width last: a thread that sees the width also sees the values.
            self.width[code] = len(folded)


def _class_letter(letter: str, cls: int) -> str:
    if cls == _DIGIT:
        return "D" if letter in _LEET_LETTERS else "E"
    return _CLASS_LETTER[cls]


@cache
def _tables() -> _CharTables:
    """The one set of character tables, made when the first non-ASCII text comes."""
    return _CharTables()


def _normalize_vectorised(text: str) -> NormalizedText | None:
    """The general path's view computed with array operations, for text without tricks.

    Applies when no character needs special handling (emoji, zero-width characters) and no
    word mixes scripts, hides a leetspeak digit or is split into letters: then the view is
    the folded text with separator runs turned into one space, repeated letters collapsed
    and short separators between CJK or Thai runs dropped. Returns ``None`` otherwise, for
    the general path.
    """
    import numpy as np  # noqa: PLC0415

    if not text:
        return None
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if int(codes.max()) >= _BMP:
        return None
    tables = _tables()
    widths = tables.width[codes]
    if (widths == 1).all():  # the common case: one view character per original character
        origin = None
        folded = tables.first_fold[codes]
        letters = tables.first_letter[codes]
    elif (widths == _UNKNOWN).any():
        tables.learn(codes)
        return _normalize_vectorised(text)
    elif (widths == _UNSUPPORTED).any():
        return None
    else:
        present = np.arange(_MAX_FOLD) < widths[:, None]
        origin = np.repeat(np.arange(len(codes)), widths)
        folded = tables.fold[codes][present]
        letters = tables.letter[codes][present]
        if not len(folded):
            return None
    classes = letters.tobytes().decode("ascii")
    if _has_tricks(classes):
        return None

    size = len(folded)
    sep = letters == ord("S")
    alpha = tables.alphabetic[letters]
    # Dropped: a separator after a separator, a letter after the same letter.
    keep = np.ones(size, dtype=bool)
    keep[1:] = ~((sep[1:] & sep[:-1]) | (alpha[1:] & (folded[1:] == folded[:-1])))
    gaps = hidden = None  # separators dropped between CJK or Thai runs; characters flagged
    if "U" in classes and "S" in classes:
        gaps, hidden = _join_unspaced_runs(letters, folded)
        keep &= ~gaps
    kept = keep.nonzero()[0]
    view = folded[kept]
    view[sep[kept]] = ord(" ")

    def maps() -> _ArrayMaps:
        # Work on view characters ("units"): each covers one original character, or part
        # of one. Built when a detector first finds something in the field.
        boundaries = kept if gaps is None else (keep | gaps).nonzero()[0]
        last = np.empty(len(boundaries), dtype=np.int64)  # last unit of each boundary's run
        last[:-1] = boundaries[1:] - 1
        last[-1:] = size - 1
        if boundaries is not kept:
            last = last[keep[boundaries]]
        if origin is None:
            starts, ends = kept, last + 1
        else:
            starts, ends = origin[kept], origin[last] + 1
        flags = alpha[kept] & (last - kept >= 2)  # a run of three or more letters
        if hidden is not None and len(hidden):  # beside a symbol or lone-character gap
            flags[np.searchsorted(kept, hidden)] = True
        return (
            starts.astype(np.int64, copy=False),
            ends.astype(np.int64, copy=False),
            flags.tobytes(),
        )

    return NormalizedText(text, view.tobytes().decode("utf-32-le"), maps)


def _join_unspaced_runs(
    letters: npt.NDArray[np.uint8], folded: npt.NDArray[np.uint32]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Short separators between CJK or Thai runs, as :func:`_join_unspaced` drops them.

    Returns the mask of dropped separators and the characters to flag as obfuscated: those
    beside a dropped gap that holds a symbol, or that isolates a single character.
    """
    import numpy as np  # noqa: PLC0415

    # Array methods and ufuncs, not numpy's Python-level helpers (diff, flatnonzero, sum):
    # on an ad's few hundred characters their overhead is most of the cost.
    size = len(letters)
    gaps = np.zeros(size, dtype=bool)
    unspaced = np.zeros(size + 2, dtype=np.int8)
    unspaced[1:-1] = letters == ord("U")
    edges = unspaced[1:] - unspaced[:-1]
    run_starts, run_ends = (edges == 1).nonzero()[0], (edges == -1).nonzero()[0]
    if len(run_starts) < 2:  # a gap needs a run on each side
        return gaps, np.empty(0, dtype=np.int64)
    low, high = run_ends[:-1], run_starts[1:]  # the stretch between two runs
    not_separator = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(letters != ord("S"), out=not_separator[1:])
    joined = (high - low <= _MAX_SPLIT_GAP) & (not_separator[high] == not_separator[low])
    if not joined.any():
        return gaps, np.empty(0, dtype=np.int64)
    low, high = low[joined], high[joined]
    offsets = low[:, None] + np.arange(_MAX_SPLIT_GAP)
    inside = offsets < high[:, None]
    gaps[offsets[inside]] = True
    spaces = np.zeros(inside.shape, dtype=bool)
    spaces[inside] = _tables().space[folded[offsets[inside]]]
    symbol = np.logical_or.reduce(inside & ~spaces, axis=1)
    lengths = run_ends - run_starts
    # The run merged into has one character only when it is a lone run, not already merged.
    after_join = np.zeros(len(joined), dtype=bool)
    after_join[1:] = joined[:-1]
    lone_left = ((lengths[:-1] == 1) & ~after_join)[joined]
    lone_right = (lengths[1:] == 1)[joined]
    flagged = symbol | lone_left | lone_right
    return gaps, np.concatenate((low[flagged] - 1, high[flagged]))


def normalize(text: str) -> NormalizedText:
    """Build the de-obfuscated, folded view of ``text`` with its offset map.

    Words are separated by single spaces in the view; punctuation runs become one space.

    Example:
        >>> normalize("Genuine 1V0RY bangle!").text
        'genuine ivory bangle '
        >>> normalize("象☆牙 chopsticks").text
        '象牙 chopsticks'
        >>> normalize("🐘🦏").text.split()
        ['elephant', 'rhino']
    """
    if _plain_ascii(text):
        return _normalize_ascii(text)
    if text.isascii() and _ASCII_SPLIT.search(f" {text}") is not None:
        # Split letters ("A\t: A{A"): the general path joins them across any separator.
        return _normalize_any(text)
    vectorised = _normalize_vectorised(text)
    if vectorised is not None:
        return vectorised
    if _UNSPACED_CHARS.search(text) is None:
        chunked = _normalize_chunked(text)
        if chunked is not None:
            return chunked
    return _normalize_any(text)


# Only the characters the general path turns into separators split chunks (not \x1f...).
_SPACES = " \t\n\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_WHITESPACE_RUNS = re.compile(f"(?P<space>[{_SPACES}]+)|[^{_SPACES}]+")
_UNSPACED_CHARS = re.compile(
    "[\u0e00-\u0e7f\u3040-\u30ff\u31f0-\u31ff\u3400-\u9fff\uac00-\ud7af\u1100-\u11ff"
    "\u3130-\u318f\uf900-\ufaff\U00020000-\U0003ffff]"
)


@dataclass(frozen=True, slots=True)
class _Chunk:
    """The view of one whitespace-free chunk, with what matters at its edges."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    flags: tuple[bool, ...]
    letter_first: bool  # its first word is one letter (a split word may continue)
    letter_last: bool  # its last word is one letter
    hides_previous: bool  # starts with a zero-width character, which flags what precedes


def _single_letter(segment: tuple[int, list[_Unit]]) -> bool:
    kind, units = segment
    return kind == _LATIN and len(units) == 1 and units[0].cls in _ALPHABETIC


_CACHED_CHUNK = 64  # longer chunks (URLs, hashes) are rarely seen twice: not cached


def _chunk(chunk: str) -> _Chunk:
    return _chunk_cached(chunk) if len(chunk) <= _CACHED_CHUNK else _chunk_view(chunk)


@lru_cache(maxsize=50_000)
def _chunk_cached(chunk: str) -> _Chunk:
    return _chunk_view(chunk)


def _chunk_view(chunk: str) -> _Chunk:
    segments = _segments(_units(chunk))
    words = [segment for segment in segments if segment[0] != _SEP]
    letter_first = bool(words) and _single_letter(words[0])
    letter_last = bool(words) and _single_letter(words[-1])
    view = _assemble(chunk, segments)
    first_kept = next((i for i, char in enumerate(chunk) if _fold_char(char)), len(chunk))
    hides_previous = any(unicodedata.category(c) == "Cf" for c in chunk[:first_kept])
    return _Chunk(
        view.text,
        view.starts,
        view.ends,
        view.obfuscated,
        letter_first,
        letter_last,
        hides_previous,
    )


def _normalize_chunked(text: str) -> NormalizedText | None:
    """The general path run once per whitespace-free chunk, with chunks memoised.

    Words repeat across listings, so most chunks are already known. Returns ``None`` when
    a trick could span chunks (one-letter words side by side, CJK or Thai text), for the
    caller to take the general path over the whole text.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    flags: list[bool] = []
    previous_letter_last = False
    for match in _WHITESPACE_RUNS.finditer(text):
        start, end = match.span()
        piece = match.group()
        if match.lastgroup == "space":
            if chars and chars[-1].endswith(" "):
                ends[-1] = end
            else:
                chars.append(" ")
                starts.append(start)
                ends.append(end)
                flags.append(False)
            continue
        chunk = _chunk(piece)
        if chunk.letter_first and previous_letter_last:
            return None
        if chunk.hides_previous and flags:
            flags[-1] = True
        previous_letter_last = chunk.letter_last
        offset = 0
        if chunk.text.startswith(" ") and chars and chars[-1].endswith(" "):
            ends[-1] = start + chunk.ends[0]
            flags[-1] = flags[-1] or chunk.flags[0]
            offset = 1
        if offset < len(chunk.text):
            chars.append(chunk.text[offset:])
        starts.extend(s + start for s in chunk.starts[offset:])
        ends.extend(e + start for e in chunk.ends[offset:])
        flags.extend(chunk.flags[offset:])
    return NormalizedText(text, "".join(chars), (tuple(starts), tuple(ends), tuple(flags)))


def _normalize_any(text: str) -> NormalizedText:
    """The general path: character by character, every trick undone."""
    return _assemble(text, _segments(_units(text)))


def _assemble(text: str, segments: list[tuple[int, list[_Unit]]]) -> NormalizedText:
    """Undo word-level tricks on the segments and write the view with its offset map."""
    for kind, units in segments:
        if kind == _LATIN:
            _fix_homoglyphs(units)
            _fix_leet(units)
    segments = _join_split_letters(segments)
    segments = _join_unspaced(segments)

    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    flags: list[bool] = []
    for kind, units in segments:
        if kind == _SEP:
            if chars and chars[-1] == " ":
                ends[-1] = max(ends[-1], units[-1].end)
                continue
            chars.append(" ")
            starts.append(units[0].start)
            ends.append(units[-1].end)
            flags.append(any(u.obfuscated for u in units))
            continue
        kept = _collapse_repeats(units) if kind == _LATIN else units
        for unit in kept:
            chars.append(unit.char)
            starts.append(unit.start)
            ends.append(unit.end)
            flags.append(unit.obfuscated)
    return NormalizedText(text, "".join(chars), (tuple(starts), tuple(ends), tuple(flags)))


#: Forms :func:`normalize_terms` computed, waiting for :func:`normalize_term` to take them.
_batched_forms: dict[str, str] = {}
#: Terms :func:`normalize_terms` has seen: their forms are in :func:`normalize_term`'s cache.
_batched_terms: set[str] = set()


@lru_cache(maxsize=200_000)
def normalize_term(term: str) -> str:
    """Normalise a taxonomy term the way listing text is normalised, trimmed.

    Example:
        >>> normalize_term("Rhino-Horn")
        'rhino horn'
    """
    form = _batched_forms.pop(term, None)
    return form if form is not None else normalize(term).text.strip()


#: Joins terms into one text for the vectorised path: a letter of its own script that no
#: term holds, between spaces, so that nothing the path does crosses from term to term.
_TERM_SENTINEL = "\u16a0"  # RUNIC LETTER FEHU
_TERM_CHUNK = 256


def normalize_terms(terms: Iterable[str]) -> list[str]:
    """:func:`normalize_term` of each term, the non-ASCII ones in one pass per few hundred.

    Building a detector normalises some 17,000 terms, half of them in scripts the ASCII fast
    path does not take; one vectorised pass each was half of ``Guard.default()``'s start-up.
    A term the vectorised path refuses (emoji, leetspeak, split letters) is found by halving
    its chunk and goes the general way, so every form is the one :func:`normalize_term` gives.

    Example:
        >>> normalize_terms(["Rhino-Horn", "象☆牙", "Elfenbeeein"])
        ['rhino horn', '象牙', 'elfenbein']
    """
    terms = list(terms)
    new = [
        term
        for term in dict.fromkeys(terms)
        if term not in _batched_terms and not term.isascii() and _TERM_SENTINEL not in term
    ]
    for start in range(0, len(new), _TERM_CHUNK):
        _normalize_chunk(new[start : start + _TERM_CHUNK])
    forms = [normalize_term(term) for term in terms]
    _batched_terms.update(new)
    for term in new:  # a term normalize_term had cached already left its batched form here
        _batched_forms.pop(term, None)
    return forms


def _normalize_chunk(chunk: list[str]) -> None:
    view = _normalize_vectorised(f" {_TERM_SENTINEL} ".join(chunk))
    forms = view.text.split(_TERM_SENTINEL) if view is not None else []
    if len(forms) == len(chunk):
        for term, form in zip(chunk, forms, strict=True):
            _batched_forms[term] = form.strip()
    elif len(chunk) > 1:
        half = len(chunk) // 2
        _normalize_chunk(chunk[:half])
        _normalize_chunk(chunk[half:])
