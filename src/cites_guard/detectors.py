"""Detectors find evidence in a listing: taxon names, product terms, code words, look-alikes.

A detector looks at one normalised field and returns :class:`Hit` objects whose spans point
into the original text. The built-in :class:`TermDetector` searches every term of the
taxonomy at once (Aho-Corasick over normalised terms). Marketplaces add their own terms or
whole detectors to a :class:`DetectorRegistry` without forking::

    registry = DetectorRegistry.from_taxonomy(load_taxonomy())
    registry.add(TermDetector([TermEntry("blanco hueso", "code_word", "es", "Elephantidae")]))
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple, Protocol, runtime_checkable

from pydantic import ValidationError

from cites_guard._automaton import Automaton
from cites_guard._hanzi import SIMPLIFIED, has_traditional
from cites_guard.assessment import Evidence, EvidenceKind
from cites_guard.errors import DetectorError
from cites_guard.listing import Listing
from cites_guard.normalize import NormalizedText, normalize, normalize_term, normalize_terms
from cites_guard.taxonomy import Taxonomy

__all__ = ["Detector", "DetectorRegistry", "Hit", "TermDetector", "TermEntry", "terms_of"]

_MAX_SUFFIX = 3  # letters allowed after a term: plurals and case endings (tusk -> tusks)
_MIN_SUFFIXED = 4  # shorter terms must match a whole word


@dataclass(frozen=True, slots=True)
class TermEntry:
    """A term a detector looks for and what finding it means."""

    term: str
    kind: EvidenceKind
    language: str | None
    target: str
    """Scientific name (species/product/code_word), look-alike name, or cue kind."""
    ambiguous: bool = False
    also_in: frozenset[str] = frozenset()
    """Other languages that list the same term with the same meaning (merged entries)."""

    def listed_in(self, language: str) -> bool:
        """Whether ``language`` lists this term (a language-less entry is listed in all)."""
        return self.language is None or self.language == language or language in self.also_in


class Hit(NamedTuple):
    """One occurrence of a term in one field.

    A named tuple, not a frozen dataclass: a listing yields dozens of hits, and a tuple is
    built in a fifth of the time while staying just as immutable.
    """

    field: str
    start: int
    end: int
    view_start: int
    view_end: int
    entry: TermEntry
    obfuscated: bool
    text: str

    def to_evidence(self) -> Evidence:
        """The public form of the hit, validated (offsets, kind, types)."""
        evidence: Evidence = _EVIDENCE_VALIDATOR.validate_python(_evidence_values(self))
        return evidence


def _evidence_values(hit: Hit) -> dict[str, object]:
    entry = hit.entry
    return {
        "field": hit.field,
        "start": hit.start,
        "end": hit.end,
        "text": hit.text,
        "term": entry.term,
        "kind": entry.kind,
        "language": entry.language,
        "obfuscated": hit.obfuscated,
    }


_EVIDENCE_VALIDATOR = Evidence.__pydantic_validator__
_EVIDENCE_FIELDS = frozenset(Evidence.model_fields)
_new = object.__new__
_set = object.__setattr__


def trusted_evidence(hit: Hit) -> Evidence:
    """:meth:`Hit.to_evidence` for a hit :meth:`DetectorRegistry.detect` returned.

    Built as ``Evidence.model_construct`` builds a model, without its loop over fields and
    without validation: the registry's own term detector types every value, and it checks
    the hits of any other detector once, as they come (:func:`_checked`). A listing has a
    dozen of these, and validating them again cost 5% of its time.
    ``tests/detectors/test_hits.py`` checks the result equals the validated model.
    """
    evidence: Evidence = _new(Evidence)
    _set(evidence, "__dict__", _evidence_values(hit))
    _set(evidence, "__pydantic_fields_set__", set(_EVIDENCE_FIELDS))  # model_copy adds to it
    _set(evidence, "__pydantic_extra__", None)
    _set(evidence, "__pydantic_private__", None)
    return evidence


def _checked(hit: Hit, detector: Detector) -> Hit:
    """A hit from a detector other than the built-in one, its values checked and coerced.

    Raises:
        DetectorError: The hit is not valid evidence (a negative or non-integer offset, a
            kind that is not an evidence kind...).
    """
    try:
        evidence = hit.to_evidence()
        view_start, view_end = int(hit.view_start), int(hit.view_end)
    except (ValidationError, TypeError, ValueError) as exc:
        raise DetectorError(
            f"detector {detector!r} returned an invalid hit in {hit.field!r} "
            f"({hit.text!r}): {exc}; fix the detector"
        ) from exc
    return Hit(
        evidence.field,
        evidence.start,
        evidence.end,
        view_start,
        view_end,
        hit.entry,
        evidence.obfuscated,
        evidence.text,
    )


@runtime_checkable
class Detector(Protocol):
    """Anything that finds hits in a normalised field."""

    def detect(self, field: str, view: NormalizedText) -> list[Hit]:
        """Return the hits in ``view`` (spans into ``view.original``)."""
        ...


def _spaced(char: str) -> bool:
    """True for scripts that separate words with spaces (boundaries apply)."""
    code = ord(char)
    return not (
        0x0E00 <= code <= 0x0E7F
        or 0x3040 <= code <= 0x30FF
        or 0x3400 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or code >= 0x20000
    )


class TermDetector:
    """Finds fixed terms in any language, one pass per field whatever the number of terms.

    A term in a spaced script must start at a word boundary and end at one, or be followed
    by at most three letters (``tusks``, ``Elfenbeins``); terms in CJK or Thai match
    anywhere, as those scripts do not mark words.

    Example:
        >>> detector = TermDetector([TermEntry("rhino horn", "product", "en", "Rhinocerotidae")])
        >>> [h.text for h in detector.detect("title", normalize("R.H.I.N.O horn cup"))]
        ['R.H.I.N.O horn']
    """

    def __init__(self, entries: Iterable[TermEntry]) -> None:
        """Index the entries by their normalised form."""
        entries = list(entries)
        by_form: dict[str, list[TermEntry]] = {}
        for entry, form in zip(entries, normalize_terms(e.term for e in entries), strict=True):
            if not form:
                continue
            # One entry per meaning: the same word listed in ten languages is one hit, not
            # ten (the strongest listing of it wins: not ambiguous, then first seen).
            same = by_form.setdefault(form, [])
            twin = next(
                (i for i, e in enumerate(same) if (e.kind, e.target) == (entry.kind, entry.target)),
                None,
            )
            if twin is None:
                same.append(entry)
                continue
            kept, other = same[twin], entry
            if kept.ambiguous and not entry.ambiguous:
                kept, other = entry, kept
            languages = set(kept.also_in | other.also_in)
            if other.language is not None and other.language != kept.language:
                languages.add(other.language)
            same[twin] = replace(kept, also_in=frozenset(languages))
        self._forms: list[str] = list(by_form)
        self._entries: list[tuple[TermEntry, ...]] = [tuple(by_form[f]) for f in self._forms]
        # Per form: must it start at a word boundary, and how many letters may follow it
        # (-1: it must end at a boundary; None: it may end anywhere).
        self._bounds: list[tuple[bool, int | None]] = [
            (_spaced(f[0]), _suffix_allowance(f) if _spaced(f[-1]) else None) for f in self._forms
        ]
        self._automaton = Automaton(self._forms)
        # The Chinese terms once more, read through the Traditional-to-Simplified table, for
        # Chinese text written in Traditional characters (熊膽 meets the term 熊胆). Only
        # Chinese terms: a Japanese term in Simplified characters would be another word.
        chinese = [i for i, same in enumerate(self._entries) if any(_chinese(e) for e in same)]
        self._simplified_ids = chinese
        self._simplified = Automaton(self._forms[i].translate(SIMPLIFIED) for i in chinese)

    def __len__(self) -> int:
        """Number of distinct normalised terms."""
        return len(self._forms)

    def detect(self, field: str, view: NormalizedText) -> list[Hit]:
        """Return every bounded occurrence of a term in ``view``."""
        text = view.text
        hits = self._bounded(field, view, text, self._automaton.find(text))
        if len(self._simplified) and has_traditional(text) and _KANA.search(text) is None:
            # Chinese in Traditional characters: the Chinese terms again, on the text read
            # in Simplified ones (same offsets); what the first pass found is not repeated.
            found = {(h.view_start, h.view_end, h.entry) for h in hits}
            ids = self._simplified_ids
            simplified = text.translate(SIMPLIFIED)
            matches = [(a, b, ids[p]) for a, b, p in self._simplified.find(simplified)]
            hits.extend(
                hit
                for hit in self._bounded(field, view, simplified, matches)
                if _chinese(hit.entry) and (hit.view_start, hit.view_end, hit.entry) not in found
            )
        return hits

    def _bounded(
        self,
        field: str,
        view: NormalizedText,
        text: str,
        matches: Iterable[tuple[int, int, int]],
    ) -> list[Hit]:
        """The hits of automaton ``matches`` in ``text`` that respect word boundaries."""
        size = len(text)
        bounds = self._bounds
        hits: list[Hit] = []
        for start, end, pattern_id in matches:
            bounded_start, allowed = bounds[pattern_id]
            if (
                bounded_start
                and start > 0
                and text[start - 1].isalnum()
                and not ("\u0600" <= text[start] <= "\u06ff" and _after_proclitic(text, start))
            ):
                continue
            if allowed is not None and end < size and text[end].isalnum():
                stop = end
                # An ending, not another word: at most three letters, and at most half the
                # term ("tusk" -> "tusks", but "fire" does not match "firenze").
                while stop < size and text[stop].isalnum() and stop - end <= allowed:
                    stop += 1
                if stop - end > allowed or not text[end:stop].isalpha():
                    continue
            first, last, obfuscated = view.locate(start, end)  # the span in the original
            snippet = view.original[first:last]
            # tuple.__new__ is what Hit._make calls: no Python-level named-tuple constructor.
            hits.extend(
                _tuple_new(Hit, (field, first, last, start, end, entry, obfuscated, snippet))
                for entry in self._entries[pattern_id]
            )
        return hits


_tuple_new = tuple.__new__


#: Kana: a field that holds any is Japanese, whose kanji are not Traditional Chinese words.
_KANA = re.compile("[\u3040-\u30ff]")


def _chinese(entry: TermEntry) -> bool:
    """Whether a term is listed in Chinese."""
    return entry.language == "zh" or "zh" in entry.also_in


#: Arabic writes the article and one-letter conjunctions and prepositions as part of the next
#: word: العاج "the ivory", بالعاج "with ivory", وعاج "and ivory".
_ARABIC_PROCLITICS = frozenset(
    {"ال", "و", "ف", "ب", "ك", "ل", "وال", "فال", "بال", "كال", "لل", "وبال", "ولل", "فلل"}
)
_LONGEST_PROCLITIC = max(map(len, _ARABIC_PROCLITICS))


def _after_proclitic(text: str, start: int) -> bool:
    """Whether an Arabic term at ``start`` follows only a proclitic of its own word.

    Example:
        >>> _after_proclitic("صندوق بالعاج", 9), _after_proclitic("مساعاج", 3)
        (True, False)
    """
    begin = start
    while begin > 0 and text[begin - 1].isalnum() and start - begin < _LONGEST_PROCLITIC:
        begin -= 1
    if begin > 0 and text[begin - 1].isalnum():
        return False
    return text[begin:start] in _ARABIC_PROCLITICS


def _suffix_allowance(form: str) -> int:
    """Letters that may follow a term: none for short ones, else an ending of up to three."""
    if len(form) < _MIN_SUFFIXED:
        return -1
    return min(_MAX_SUFFIX, len(form) // 2)


_SHORT_SPACED = 3  # letters: "SM", "tai", "cú" are words of their own too often
_SHORT_UNSPACED = 1  # characters: 牙 (tooth), 象 (in 印象, 象棋) say nothing alone
_SHARED_BY = 3  # a term several unrelated taxa claim ("tame", "ringed") is generic


def _is_weak(form: str) -> bool:
    """Too short to be evidence on its own, in the script it is written in."""
    if not form:
        return True
    if _spaced(form[0]):
        return len(form.replace(" ", "")) <= _SHORT_SPACED
    return len(form) <= _SHORT_UNSPACED + 1


def _generic_forms(taxonomy: Taxonomy) -> set[str]:
    """Normalised terms claimed by several taxa that are not one another's ancestors."""
    pairs = [(taxon.name, term) for taxon in taxonomy.taxa for term in taxon.all_terms()]
    claims: dict[str, set[str]] = {}
    for (name, _), form in zip(pairs, normalize_terms(term for _, term in pairs), strict=True):
        claims.setdefault(form, set()).add(name)
    generic = set()
    for form, names in claims.items():
        if len(names) < _SHARED_BY:
            continue
        roots = set()
        for name in names:
            found = taxonomy.get(name)
            while found is not None and found.parent is not None and found.parent in names:
                found = taxonomy.get(found.parent)
            roots.add(found.name if found else name)
        if len(roots) >= _SHARED_BY:
            generic.add(form)
    return generic


def terms_of(taxonomy: Taxonomy) -> list[TermEntry]:
    """Every term of a taxonomy as detector entries: names, products, code words, cues.

    Safeguards against over-general data: a single CJK or Thai character is dropped; very
    short words, and terms several unrelated taxa claim, count only as weak (ambiguous)
    evidence, like the terms the taxonomy itself marks ambiguous.
    """
    generic = _generic_forms(taxonomy)
    entries: list[TermEntry] = []
    for taxon in taxonomy.taxa:
        ambiguous = {t.casefold() for t in taxon.ambiguous_terms}
        tables: tuple[tuple[EvidenceKind, dict[str, list[str]]], ...] = (
            ("species", taxon.names),
            ("product", taxon.products),
            ("code_word", taxon.code_words),
        )
        for kind, table in tables:
            for lang, terms in table.items():
                for term in terms:
                    form = normalize_term(term)
                    # One character is no evidence in any script: 牙 alone, or "HH"
                    # (Harris's hawk) folded to "h" like "Elfenbeeein" to "elfenbein".
                    if len(form.replace(" ", "")) <= _SHORT_UNSPACED:
                        continue
                    weak = term.casefold() in ambiguous or _is_weak(form) or form in generic
                    entries.append(TermEntry(term, kind, lang, taxon.name, weak))
        entries.extend(
            TermEntry(name, "species", None, taxon.name) for name in (taxon.name, *taxon.synonyms)
        )
    for lookalike in taxonomy.lookalikes:
        for lang, terms in lookalike.terms.items():
            entries.extend(TermEntry(t, "lookalike", lang, lookalike.name) for t in terms)
    for cue in taxonomy.cues:
        entries.extend(TermEntry(t, "negation", cue.lang, cue.kind) for t in cue.terms)
    return entries


class DetectorRegistry:
    """The detectors a guard runs, in order; normalises each field once for all of them."""

    def __init__(self, detectors: Sequence[Detector] = ()) -> None:
        """Start with the given detectors."""
        self._detectors: list[Detector] = list(detectors)

    @classmethod
    def from_taxonomy(
        cls, taxonomy: Taxonomy, extra_terms: Iterable[TermEntry] = ()
    ) -> DetectorRegistry:
        """The standard registry: one term detector over the taxonomy and extra terms."""
        return cls([TermDetector([*terms_of(taxonomy), *extra_terms])])

    def add(self, detector: Detector) -> None:
        """Run ``detector`` too, after the ones already registered."""
        if not isinstance(detector, Detector):
            raise TypeError(f"{detector!r} has no detect(field, view) method")
        self._detectors.append(detector)

    @property
    def detectors(self) -> tuple[Detector, ...]:
        """The registered detectors."""
        return tuple(self._detectors)

    def detect(self, listing: Listing) -> tuple[list[Hit], dict[str, NormalizedText]]:
        """Run every detector on every text field of ``listing``.

        Returns:
            The hits, and the normalised view of each field (reused by the model stage).

        Raises:
            DetectorError: A detector other than the built-in one returned a hit that is
                not valid evidence.
        """
        hits: list[Hit] = []
        views: dict[str, NormalizedText] = {}
        for field, text in listing.text_fields():
            view = normalize(text)
            views[field] = view
            for detector in self._detectors:
                found = detector.detect(field, view)
                if type(detector) is not TermDetector:  # checked once, here (trusted_evidence)
                    found = [_checked(hit, detector) for hit in found]
                hits.extend(found)
        return hits, views
