"""From raw hits to matches: which taxa the evidence points at, and how strongly.

Rules, in order:
0. Look-alike and negation cues count only in the ad's own language, when it is known, and
   only with the accents the seller typed. They lower the risk, and a short word of one
   language is often an ordinary word of another (English "tee" in Dutch and Italian ads),
   while folding accents away makes Vietnamese "giá" (price) read as "giả" (fake). Names,
   products and code words still match in every language, because sellers mix languages.
1. A look-alike term that overlaps a positive hit explains it away ("mammoth ivory").
2. A look-alike of the same taxon or group elsewhere in the ad, or a negation/imitation cue
   just before or after a hit ("faux ivory", "ivory (resin)"), weakens it.
3. Evidence for a higher taxon (Psittaciformes: "parrot") joins the most specific taxon
   the ad also names (Psittacus erithacus: "African grey").
4. A match's confidence is the noisy-OR of its hits' strengths.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from cites_guard._specimen import ad_words, guess_specimen
from cites_guard.assessment import Evidence, Match
from cites_guard.detectors import Hit, trusted_evidence
from cites_guard.normalize import NormalizedText, normalize_term
from cites_guard.taxonomy import DENIAL_KINDS, LANGUAGES, Taxonomy

__all__ = ["EvidenceSummary", "summarize"]

#: Strength of one hit by kind, before adjustments.
_STRENGTH = {"species": 0.72, "product": 0.85, "code_word": 0.55}
_AMBIGUOUS_STRENGTH = 0.15
_OBFUSCATION_BONUS = 0.15  # hiding a word is itself a signal
_CUE_WINDOW_BEFORE = 24  # view characters: "faux ", "not real ", "imitation "
_CUE_WINDOW_AFTER = 16  # "ivory (resin)", "ivory-look"
_CUE_DAMPING = 0.25
_LOOKALIKE_DAMPING = 0.35
_MAX_STRENGTH = 0.97


@dataclass(slots=True)
class _Scored:
    hit: Hit
    strength: float
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EvidenceSummary:
    """What the evidence says about one listing."""

    matches: tuple[Match, ...]
    lookalikes: tuple[Evidence, ...]
    risk: float
    notes: tuple[str, ...]

    @property
    def strongest(self) -> float:
        """Confidence of the most confident match (0 without one)."""
        return max([m.confidence for m in self.matches], default=0.0)

    @property
    def group_scores(self) -> dict[str, float]:
        """Highest match confidence per taxon group."""
        scores: dict[str, float] = {}
        for match in self.matches:
            scores[match.group] = max(scores.get(match.group, 0.0), match.confidence)
        return scores


def _overlaps(a: Hit, b: Hit) -> bool:
    return a.field == b.field and a.view_start < b.view_end and b.view_start < a.view_end


def _by_field(hits: Iterable[Hit]) -> dict[str, list[Hit]]:
    """Hits grouped by the field they are in."""
    grouped: dict[str, list[Hit]] = {}
    for hit in hits:
        grouped.setdefault(hit.field, []).append(hit)
    return grouped


def _covering(lookalikes: Iterable[Hit], hit: Hit) -> Hit | None:
    """The first of ``lookalikes`` (those of ``hit``'s field) that overlaps it."""
    return next((lk for lk in lookalikes if _overlaps(lk, hit)), None)


def _near(cue: Hit, hit: Hit) -> bool:
    if cue.field != hit.field or _overlaps(cue, hit):
        return cue.field == hit.field and _overlaps(cue, hit)
    if cue.view_end <= hit.view_start:
        return hit.view_start - cue.view_end <= _CUE_WINDOW_BEFORE
    return cue.view_start - hit.view_end <= _CUE_WINDOW_AFTER


_DENIAL_GAP_WORD = 3  # letters: "not a resin", "pas du plastique", "no es resina"
_DENIAL_GAP_UNSPACED = 2  # characters: "不是的树脂"
_DENIAL_GAP_MAX = _DENIAL_GAP_WORD + 2  # view characters: the short word and its spaces


#: Punctuation between a denial and a word ends the denial: "No box. Faux ivory".
_CLAUSE_BREAKS = frozenset(".,;:!?()[]/\\|-–—\n\r，。、！？；：（）「」")


def _denies(denial: Hit, target: Hit, hits: list[Hit], views: Mapping[str, NormalizedText]) -> bool:
    """True when ``denial`` negates ``target`` itself: "not resin", "樹脂ではない".

    Only a short word of letters may stand between them, with no punctuation and no other
    term: "not ivory, resin", "No box. Faux ivory" and "레진 상아 아님" deny nothing.
    """
    if denial.field != target.field:
        return False
    if denial.entry.target == "denial":
        start, end = denial.view_end, target.view_start
        original = (denial.end, target.start)
    else:
        start, end = target.view_end, denial.view_start
        original = (target.end, denial.start)
    if end < start or end - start > _DENIAL_GAP_MAX:
        return False
    view = views.get(denial.field)
    if view is None:
        return end - start <= 1
    if _CLAUSE_BREAKS.intersection(view.original[original[0] : original[1]]):
        return False
    if any(h.field == denial.field and start <= h.view_start and h.view_end <= end for h in hits):
        return False
    words = view.text[start:end].split()
    if not words:
        return True
    if len(words) > 1 or not words[0].isalpha():
        return False
    spaced = words[0][0].isascii() or words[0][0] < "\u0e00"
    return len(words[0]) <= (_DENIAL_GAP_WORD if spaced else _DENIAL_GAP_UNSPACED)


def _undenied(
    targets: list[Hit],
    denials: list[Hit],
    hits: list[Hit],
    views: Mapping[str, NormalizedText],
    notes: list[str],
) -> list[Hit]:
    """The look-alike or imitation hits no denial negates ("not resin" keeps the ivory)."""
    if not denials or not targets:
        return targets
    denied_spans = {(d.field, d.view_start, d.view_end) for d in denials}
    kept = []
    for hit in targets:
        if (hit.field, hit.view_start, hit.view_end) in denied_spans:
            continue  # the denial word itself, listed as a cue too ("并非")
        denial = next((d for d in denials if _denies(d, hit, hits, views)), None)
        if denial is None:
            kept.append(hit)
            continue
        note = f"{denial.text!r} denies {hit.text!r}"
        if note not in notes:
            notes.append(note)
    return kept


def _marks(text: str) -> str:
    """The accents of a Latin-script text, in order: "giả" -> hook above."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if "\u0300" <= c <= "\u036f")


#: The same, remembered: terms and the words sellers write repeat from ad to ad.
_cached_marks = lru_cache(maxsize=4096)(_marks)


def _cue_applies(hit: Hit, language: str | None) -> bool:
    """Whether a look-alike or negation hit counts (rule 0).

    Its language must be the ad's, and accents the seller typed must be the cue's own:
    the normaliser folds them away, but in Vietnamese they tell words apart (giá is a price,
    giả a fake; sạch is clean, sách a book). A seller who types no accents still matches.
    """
    if language is not None and not hit.entry.listed_in(language):
        return False
    if hit.text.isascii():
        return True
    typed = _cached_marks(hit.text)
    return not typed or typed == _cached_marks(hit.entry.term)


def noisy_or(values: Iterable[float]) -> float:
    """Probability that at least one of several independent signals is right.

    Example:
        >>> round(noisy_or([0.5, 0.5]), 2)
        0.75
    """
    miss = 1.0
    for value in values:
        miss *= 1.0 - value
    return 1.0 - miss


def _taxon_and_applying(hits: list[Hit], language: str | None) -> tuple[list[Hit], list[Hit]]:
    """The taxon-term hits, and the hits that count: those terms and the applying cues.

    One pass over the hits; a cue applies when it is listed in the ad's language.
    """
    positives: list[Hit] = []
    applying: list[Hit] = []
    for hit in hits:
        if hit.entry.kind in _STRENGTH:
            if _typed_as_listed(hit):
                positives.append(hit)
                applying.append(hit)
        elif _cue_applies(hit, language):
            applying.append(hit)
    return positives, applying


#: The combining marks of Vietnamese: grave, acute, circumflex, tilde, breve, hook above, horn
#: and dot below.
_VIETNAMESE_MARKS = frozenset("\u0300\u0301\u0302\u0303\u0306\u0309\u031b\u0323")


def _typed_as_listed(hit: Hit) -> bool:
    """Whether the accents on a Vietnamese term's hit are the term's own, in order.

    Folded, sợi (a strand) reads as sói (wolf): the accents a seller typed tell them apart,
    as for cues (:func:`_cue_applies`). Accents left out still match (sellers drop them, and
    "T4C KÈ" for tắc kè drops two); terms of other languages match whatever the accents.
    """
    entry = hit.entry
    if entry.language != "vi" or entry.also_in or hit.text.isascii():
        return True
    listed = iter(_cached_marks(entry.term))
    # Only Vietnamese accents count: a strike-through or underline laid over the letters to
    # hide a word is a disguise, not another word.
    typed = (mark for mark in _cached_marks(hit.text) if mark in _VIETNAMESE_MARKS)
    return all(mark in listed for mark in typed)  # a subsequence of the term's


def summarize(
    hits: list[Hit],
    taxonomy: Taxonomy,
    views: Mapping[str, NormalizedText] | None = None,
    language: str | None = None,
) -> EvidenceSummary:
    """Resolve a listing's hits into matches with confidences and an evidence-only risk.

    Args:
        hits: Every hit the detectors found in the listing.
        taxonomy: The taxonomy the hits refer to.
        views: The normalised fields by name, used to tell the specimen kind and to read
            what stands between a denial and a look-alike.
        language: The ad's language (given or detected); cues of other languages are
            dropped. ``None``, or a language the taxonomy does not cover, keeps them all.
    """
    views = views or {}
    if language not in LANGUAGES:
        language = None
    positives, hits = _taxon_and_applying(hits, language)
    denials = [h for h in hits if h.entry.kind == "negation" and h.entry.target in DENIAL_KINDS]
    notes: list[str] = []
    lookalikes = _undenied(
        _outside_longer(_one_per_span(h for h in hits if h.entry.kind == "lookalike"), positives),
        denials,
        hits,
        views,
        notes,
    )
    cues = _undenied(
        _one_per_span(
            h for h in hits if h.entry.kind == "negation" and h.entry.target not in DENIAL_KINDS
        ),
        denials,
        hits,
        views,
        notes,
    )
    resembled: set[str] = set()
    for hit in lookalikes:
        found = taxonomy.lookalikes_by_name.get(hit.entry.target)
        if found is not None:
            resembled.update(found.resembles)

    lookalike_spans = _by_field(lookalikes)
    scored_by_taxon: dict[str, list[_Scored]] = {}
    for hit in _drop_contained(_one_hit_per_span(positives, taxonomy)):
        taxon = taxonomy.get(hit.entry.target)
        if taxon is None:
            continue
        strength = _AMBIGUOUS_STRENGTH if hit.entry.ambiguous else _STRENGTH[hit.entry.kind]
        scored = _Scored(hit, strength)
        if hit.obfuscated:
            scored.strength = min(_MAX_STRENGTH, scored.strength + _OBFUSCATION_BONUS)
            scored.notes.append(f"{hit.text!r} was disguised")
        if lookalikes:  # most ads name none: skip the search
            covering = _covering(lookalike_spans.get(hit.field, ()), hit)
            if covering is not None:
                notes.append(f"{hit.text!r} is part of look-alike {covering.text!r}")
                continue
        if resembled and resembled.intersection([*taxonomy.lineage(taxon), taxon.group]):
            scored.strength *= _LOOKALIKE_DAMPING
            scored.notes.append("a look-alike of this taxon is named in the ad")
        cue = next((c for c in cues if _near(c, hit)), None) if cues else None
        if cue is not None:
            scored.strength *= _CUE_DAMPING
            scored.notes.append(f"{cue.text!r} next to {hit.text!r}")
        notes.extend(scored.notes)
        scored_by_taxon.setdefault(taxon.name, []).append(scored)

    # Fold evidence for ancestors into the most specific named descendant.
    names = list(scored_by_taxon)
    for name in names:
        taxon = taxonomy.get(name)
        if taxon is None:
            continue
        ancestors = taxonomy.lineage(taxon)[1:]
        for ancestor in ancestors:
            if ancestor in scored_by_taxon and ancestor != name:
                scored_by_taxon[name].extend(scored_by_taxon.pop(ancestor))

    matches: list[Match] = []
    words = ad_words(view.text for view in views.values()) if scored_by_taxon else frozenset()
    for name, items in scored_by_taxon.items():
        taxon = taxonomy.get(name)
        if taxon is None or not items:
            continue
        strongest: dict[str, float] = {}
        for item in items:  # a term repeated in title and description counts once
            form = normalize_term(item.hit.entry.term)
            strongest[form] = max(strongest.get(form, 0.0), item.strength)
        confidence = min(_MAX_STRENGTH, noisy_or(strongest.values()))
        evidence = tuple(sorted(_unique_spans(s.hit for s in items), key=_order))
        matches.append(
            Match(
                taxon=taxon.name,
                rank=taxon.rank,
                common_name=taxon.common_name,
                group=taxon.group,
                appendix=taxon.appendix,
                appendix_note=taxon.appendix_note,
                specimen=guess_specimen([s.hit for s in items], taxon, words),
                confidence=round(confidence, 4),
                evidence=evidence,
            )
        )
    matches.sort(key=lambda m: -m.confidence)
    risk = noisy_or(m.confidence for m in matches)
    lookalike_evidence = tuple(sorted(_unique_spans([*lookalikes, *cues]), key=_order))
    return EvidenceSummary(
        tuple(matches), lookalike_evidence, min(risk, _MAX_STRENGTH), tuple(notes)
    )


def _outside_longer(lookalikes: list[Hit], positives: list[Hit]) -> list[Hit]:
    """The look-alike hits that are not part of a longer taxon term.

    The longer term is the more specific reading: 牛角 (cattle horn) inside 犀牛角 (rhino
    horn) names no look-alike. A look-alike that holds the term, or overlaps it ("mammoth
    ivory" and "ivory bangle"), still counts.
    """
    if not lookalikes or not positives:
        return lookalikes
    spans: dict[str, set[tuple[int, int]]] = {}  # the same span is often several hits
    for hit in positives:
        spans.setdefault(hit.field, set()).add((hit.view_start, hit.view_end))
    kept = []
    for lk in lookalikes:
        start, end = lk.view_start, lk.view_end
        if not any(
            s <= start and end <= e and e - s > end - start for s, e in spans.get(lk.field, ())
        ):
            kept.append(lk)
    return kept


def _drop_contained(hits: list[Hit]) -> list[Hit]:
    """Drop a hit that lies inside a longer hit for the same taxon in the same field.

    One word must count once: "ivory" inside "carved ivory", or "ivor" (Dutch "ivoor" with
    its doubled letter folded) inside "ivory", adds no evidence of its own.

    One sweep per field and taxon, in order of start (longest first): a hit is inside an
    earlier, different span exactly when that span reaches at least as far.
    """
    groups: dict[tuple[str, str], list[Hit]] = {}
    for hit in hits:
        groups.setdefault((hit.field, hit.entry.target), []).append(hit)
    inside: set[int] = set()
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda h: (h.view_start, -h.view_end))
        reach = -1  # furthest end among earlier spans other than the current one
        span_reach = -1
        span: tuple[int, int] | None = None
        for hit in group:
            if (hit.view_start, hit.view_end) != span:
                reach = max(reach, span_reach)
                span = (hit.view_start, hit.view_end)
            if reach >= hit.view_end:
                inside.add(id(hit))
            span_reach = max(span_reach, hit.view_end)
    return [hit for hit in hits if id(hit) not in inside] if inside else hits


def _one_per_span(hits: Iterable[Hit]) -> list[Hit]:
    """The first hit of each field span (cue and look-alike words repeat across languages)."""
    seen: dict[tuple[str, int, int], Hit] = {}
    for hit in hits:
        seen.setdefault((hit.field, hit.view_start, hit.view_end), hit)
    return list(seen.values())


def _unique_spans(hits: Iterable[Hit]) -> list[Evidence]:
    """One evidence item per field span (the same word matched in several languages)."""
    seen: dict[tuple[str, int, int], Hit] = {}
    for hit in hits:
        key = (hit.field, hit.start, hit.end)
        if key not in seen or _rank(hit) < _rank(seen[key]):
            seen[key] = hit
    return [trusted_evidence(hit) for hit in seen.values()]


_KIND_RANK = {"product": 0, "species": 1, "code_word": 2}


def _one_hit_per_span(hits: list[Hit], taxonomy: Taxonomy) -> list[Hit]:
    """Keep one hit per span and taxon; give a span several taxa share to their ancestor.

    The same word is often listed in many languages ("caviar") and on a family as well as
    its species; counting each listing of it would inflate the confidence.
    """
    by_span: dict[tuple[str, int, int], dict[str, Hit]] = {}
    for hit in hits:
        taxa = by_span.setdefault((hit.field, hit.view_start, hit.view_end), {})
        current = taxa.get(hit.entry.target)
        if current is None or _rank(hit) < _rank(current):
            taxa[hit.entry.target] = hit
    kept: list[Hit] = []
    for taxa in by_span.values():
        if len(taxa) > 1:
            lineages = {
                name: set(taxonomy.lineage(found))
                for name in taxa
                if (found := taxonomy.get(name)) is not None
            }
            common = [n for n in taxa if all(n in line for line in lineages.values())]
            if common:
                kept.append(taxa[common[0]])
                continue
        kept.extend(taxa.values())
    return kept


def _rank(hit: Hit) -> tuple[bool, int]:
    return (hit.entry.ambiguous, _KIND_RANK.get(hit.entry.kind, 9))


def _order(evidence: Evidence) -> tuple[str, int, int, str]:
    return (evidence.field, evidence.start, evidence.end, evidence.term)
