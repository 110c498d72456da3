"""Generate labelled training listings from the taxonomy, in every language it covers.

The generator guarantees coverage: every name, product term and code word of every taxon
appears in positive examples, every look-alike term in negative ones, and every ambiguous
word (``ivory`` the colour, ``jaguar`` the car) in ordinary ads. It cannot teach how real
sellers write; the hand-written corpus (``corpus/``) does that. Together they train the model.

Generated listings use the labelled-listing format (:class:`~cites_guard.dataset.LabelledListing`)
with ``source="generated"``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

from cites_guard.dataset import Difficulty, LabelledListing
from cites_guard.detectors import TermDetector, TermEntry, terms_of
from cites_guard.normalize import normalize, normalize_term
from cites_guard.taxonomy import DENIAL_KINDS, GROUPS, LANGUAGES, Lookalike, Taxon, Taxonomy
from cites_guard.training._obfuscate import obfuscate
from cites_guard.training._phrases import (
    CATEGORIES,
    CURRENCY,
    EVERYDAY_CATEGORIES,
    EVERYDAY_ITEMS,
    EVERYDAY_LIVING,
    EVERYDAY_NOUNS,
    FILLER,
    SELL,
    WANTED,
)

__all__ = ["generate"]

_OBFUSCATION_RATE = 0.25
_WANTED_RATE = 0.15
_EVERYDAY_PER_LANGUAGE = 300
_RANDOM_PER_LANGUAGE = 400
_TERSE_PER_LANGUAGE = 300
_STRENGTH_KINDS = ("species", "product", "code_word")
_CLAIM_RATE = 0.12  # offers that say what they are not: "not resin"
#: Offers that also carry a few ordinary words ("estate find", "pick up Sunday"). Without
#: them ordinary words appear only in negatives, and "Carved ivory bangle, estate find"
#: scored 0.04: the model had learnt that ordinary words mean an ordinary ad.
_ORDINARY_WORDS_RATE = 0.3
#: Offers for a term that holds an ambiguous word ("ivory bangle"): it carries the context.
_DISAMBIGUATING_OFFERS = 4


class _Writer:
    """Composes ad text in one language from the phrase tables."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def title(self, lang: str, term: str, *, wanted: bool = False) -> str:
        rng = self.rng
        verb = rng.choice((WANTED if wanted else SELL)[lang])
        extra = rng.choice(
            (
                "",
                "",
                f"{rng.randint(2, 60)}cm",
                f"{rng.randint(5, 900)}g",
                f"x{rng.randint(2, 12)}",
                "!!",
                "🔥",
                "(rare)",
            )
        )
        layout = rng.randrange(4)
        if layout == 0:
            parts = [verb, term, extra]
        elif layout == 1:
            parts = [term, extra, verb]
        elif layout == 2:
            parts = [term.upper() if lang in ("en", "de", "fr", "es") else term, extra]
        else:
            parts = [term, "-", verb]
        text = " ".join(p for p in parts if p)
        return (
            text if lang not in ("zh", "ja", "th") or rng.random() < 0.5 else text.replace(" ", "")
        )

    def description(self, lang: str, mention: str | None) -> str:
        rng = self.rng
        sentences = rng.sample(FILLER[lang], k=min(len(FILLER[lang]), rng.randint(1, 3)))
        if mention is not None:
            sentences.insert(rng.randrange(len(sentences) + 1), mention)
        joiner = "" if lang in ("zh", "ja") else " "
        return joiner.join(sentences)

    def price(self, lang: str) -> tuple[float | None, str | None]:
        if self.rng.random() < 0.15:
            return None, None
        currency = self.rng.choice(CURRENCY[lang])
        scale = {
            "JPY": 100,
            "KRW": 1000,
            "VND": 20000,
            "IDR": 10000,
            "RUB": 80,
            "TRY": 30,
            "KES": 100,
            "TZS": 2000,
            "THB": 30,
            "CNY": 7,
            "INR": 80,
        }.get(currency, 1)
        return float(self.rng.randint(5, 3000) * scale), currency


def _group_of_lookalike(lookalike: Lookalike, taxonomy: Taxonomy) -> str | None:
    for name in lookalike.resembles:
        if name in GROUPS:
            return name
        found = taxonomy.get(name)
        if found is not None:
            return found.group
    return None


def _authenticity_claims(taxonomy: Taxonomy, entries: Sequence[TermEntry]) -> dict[str, list[str]]:
    """Per language, "not resin"-style claims: a denial with an imitation word.

    Sellers of the real thing say what it is not; such words must not read as a look-alike.
    """
    # "ivory-look" or "仿象牙" would add an ivory term to a parrot offer: keep the imitation
    # words in which the detector finds no wildlife term, weak ones included.
    wildlife = TermDetector(e for e in entries if e.kind in _STRENGTH_KINDS)
    imitations: dict[str, list[str]] = {}
    denials: dict[tuple[str, str], list[str]] = {}
    for cue in taxonomy.cues:
        if cue.kind == "imitation":
            imitations.setdefault(cue.lang, []).extend(
                t for t in cue.terms if not wildlife.detect("term", normalize(t))
            )
        elif cue.kind in DENIAL_KINDS:
            denials.setdefault((cue.lang, cue.kind), []).extend(cue.terms)
    claims: dict[str, list[str]] = {}
    for (lang, kind), words in denials.items():
        for word in words:
            for imitation in imitations.get(lang, []):
                pair = (word, imitation) if kind == "denial" else (imitation, word)
                claims.setdefault(lang, []).append(" ".join(pair))
    return claims


def _offers(term: str, ambiguous: set[str]) -> int:
    """Offers to write for a term: more when a word of it is ambiguous on its own.

    "ivory bangle" and "carved ivory" are what make "ivory" wildlife rather than a colour;
    with one offer each against every ivory-coloured dress among the negatives, the model
    learnt that "carved ivory" was the colour.
    """
    words = term.casefold().split()
    return _DISAMBIGUATING_OFFERS if len(words) > 1 and ambiguous.intersection(words) else 1


def _positives(
    taxon: Taxon,
    writer: _Writer,
    counter: Iterator[int],
    weak: set[tuple[str, str]],
    claims: dict[str, list[str]],
    ordinary: dict[str, list[str]],
) -> Iterator[LabelledListing]:
    rng = writer.rng
    ambiguous = {t.casefold() for t in taxon.ambiguous_terms}
    ambiguous |= {term for name, term in weak if name == taxon.name}
    for lang in LANGUAGES:
        plain: list[tuple[Difficulty, str]] = [
            ("plain", t)
            for t in (*taxon.names.get(lang, []), *taxon.products.get(lang, []))
            if t.casefold() not in ambiguous
        ]
        coded: list[tuple[Difficulty, str]] = [
            ("coded", t) for t in taxon.code_words.get(lang, []) if t.casefold() not in ambiguous
        ]
        # Every term makes an offer: a sample of three left the most traded products (17
        # English ivory terms) to chance, and the model forgot "ivory bracelet" when the
        # draw missed it.
        for difficulty, term in [
            *[item for item in plain for _ in range(_offers(item[1], ambiguous))],
            *coded,
        ]:
            shown = term
            level: Difficulty = difficulty
            if rng.random() < _OBFUSCATION_RATE:
                shown = obfuscate(term, rng)
                level = "obfuscated" if shown != term else difficulty
            wanted = rng.random() < _WANTED_RATE
            mention = None
            if rng.random() < 0.3:
                mention = rng.choice([taxon.name, *taxon.names.get(lang, [shown])])
            price, currency = writer.price(lang)
            if wanted:
                price, currency = None, None
            description = writer.description(lang, mention)
            if claims.get(lang) and rng.random() < _CLAIM_RATE:
                description = f"{description} {rng.choice(claims[lang])}"
            title = writer.title(lang, shown, wanted=wanted)
            if ordinary.get(lang) and rng.random() < _ORDINARY_WORDS_RATE:
                words = " ".join(rng.choices(ordinary[lang], k=rng.randint(1, 4)))
                if rng.random() < 0.5:
                    title = f"{title}, {words}"
                else:
                    description = f"{description} {words}"
            yield LabelledListing(
                id=f"g-{next(counter):06d}",
                lang=lang,
                title=title,
                description=description,
                price=price,
                currency=currency,
                category=rng.choice(CATEGORIES[taxon.group]),
                label=1,
                taxon=taxon.name,
                appendix=taxon.appendix,
                specimen=taxon.traded_as[0] if taxon.traded_as else "raw part",
                difficulty=level,
                rationale=f"generated: {difficulty} term {term!r}",
                source="generated",
            )


def _negative(
    writer: _Writer,
    counter: Iterator[int],
    lang: str,
    title: str,
    category: str,
    why: str,
    *,
    difficulty: Difficulty = "hard_negative",
    base: LabelledListing | None = None,
) -> LabelledListing:
    """A negative listing; with ``base``, its description and price are reused."""
    if base is not None:
        description, price, currency = base.description, base.price, base.currency
    else:
        description = writer.description(lang, None)
        price, currency = writer.price(lang)
    return LabelledListing(
        id=f"g-{next(counter):06d}", lang=lang, title=title, description=description,
        price=price, currency=currency, category=category, label=0, taxon=None, appendix=None,
        specimen=None, difficulty=difficulty, rationale=f"generated: {why}", source="generated",
    )  # fmt: skip


def _lookalike_negatives(
    taxonomy: Taxonomy, writer: _Writer, counter: Iterator[int]
) -> Iterator[LabelledListing]:
    rng = writer.rng
    for lookalike in taxonomy.lookalikes:
        group = _group_of_lookalike(lookalike, taxonomy)
        categories = CATEGORIES.get(group, EVERYDAY_CATEGORIES) if group else EVERYDAY_CATEGORIES
        for lang, terms in lookalike.terms.items():
            for term in terms:
                yield _negative(
                    writer,
                    counter,
                    lang,
                    writer.title(lang, term),
                    rng.choice(categories),
                    f"look-alike {lookalike.name}",
                )


def _cue_negatives(
    taxonomy: Taxonomy, writer: _Writer, counter: Iterator[int]
) -> Iterator[LabelledListing]:
    """'faux ivory', 'tiger print', 'plush parrot': the animal word, but not the animal."""
    rng = writer.rng
    cues_by_lang: dict[str, list[str]] = {}
    for cue in taxonomy.cues:
        if cue.kind in ("imitation", "depiction"):
            cues_by_lang.setdefault(cue.lang, []).extend(cue.terms)
    for taxon in taxonomy.taxa:
        for lang, cues in cues_by_lang.items():
            terms = [*taxon.names.get(lang, []), *taxon.products.get(lang, [])]
            if not terms or rng.random() > 0.5:
                continue
            term, word = rng.choice(terms), rng.choice(cues)
            title = f"{word} {term}" if rng.random() < 0.5 else f"{term} {word}"
            category = rng.choice((*CATEGORIES[taxon.group], *EVERYDAY_CATEGORIES))
            yield _negative(
                writer,
                counter,
                lang,
                writer.title(lang, title),
                category,
                f"{word!r} says it is not the real {term!r}",
            )


def _ambiguous_negatives(
    taxonomy: Taxonomy, writer: _Writer, counter: Iterator[int], everyday: Sequence[LabelledListing]
) -> Iterator[LabelledListing]:
    """'ivory' as a colour, 'jaguar' as a car: the ambiguous word inside an ordinary ad."""
    rng = writer.rng
    if not everyday:
        return
    for taxon in taxonomy.taxa:
        for term in taxon.ambiguous_terms:
            for _ in range(4):
                base = rng.choice(everyday)
                title = f"{base.title} {term}" if rng.random() < 0.5 else f"{term} {base.title}"
                yield _negative(writer, counter, base.lang, title, base.category,
                                f"{term!r} in an ordinary ad", base=base)  # fmt: skip


def _everyday(
    writer: _Writer, counter: Iterator[int], per_language: int
) -> Iterator[LabelledListing]:
    """Ordinary goods in every language: most of what a marketplace sells."""
    rng = writer.rng
    for lang in LANGUAGES:
        for _ in range(per_language):
            draw = rng.random()
            if draw < 0.4:
                item, category = rng.choice(EVERYDAY_ITEMS)
            elif draw < 0.7:
                item, category = rng.choice(EVERYDAY_NOUNS[lang]), rng.choice(EVERYDAY_CATEGORIES)
            else:
                item, category = rng.choice(EVERYDAY_LIVING[lang])
            yield _negative(writer, counter, lang, writer.title(lang, item), category,
                            "ordinary goods", difficulty="easy_negative")  # fmt: skip


_SHARED_ACROSS_GROUPS = 3  # a word in offers of this many taxon groups is ordinary ad language
_PUNCTUATION = ".,;:!?()[]\"'«»“”‘’…-–—/*#，。、！？；：（）"


def _negative_vocabulary(
    taxonomy: Taxonomy, negatives: Sequence[LabelledListing], positives: Sequence[LabelledListing]
) -> dict[str, list[str]]:
    """Per language, ordinary words, none of them part of a taxonomy term.

    They are the words of negative ads, and those that offers of several taxon groups share
    ("collection only", "DM for price"). Words that only offers use would otherwise become
    signs of wildlife by themselves; words that only one group's offers use may be its code
    words, and stay out.
    """
    wildlife = {
        word for taxon in taxonomy.taxa for term in taxon.all_terms()
        for word in normalize_term(term).split()
    }  # fmt: skip
    groups_of: dict[tuple[str, str], set[str]] = {}
    for record in positives:
        group = taxonomy.group_of(record.taxon or "")
        if group is None:
            continue
        for token in f"{record.title} {record.description}".split():
            word = token.strip(_PUNCTUATION)
            if word.isalpha():  # "10g", "US." and prices say nothing about ordinary ads
                groups_of.setdefault((record.lang, word), set()).add(group)
    vocabulary: dict[str, list[str]] = {}
    shared = [
        (lang, word) for (lang, word), groups in groups_of.items()
        if len(groups) >= _SHARED_ACROSS_GROUPS
    ]  # fmt: skip
    words_of = [(r.lang, w) for r in negatives for w in f"{r.title} {r.description}".split()]
    for lang, word in [*words_of, *shared]:
        if normalize_term(word) not in wildlife and len(word) > 1:
            vocabulary.setdefault(lang, []).append(word)
    return {lang: words for lang, words in sorted(vocabulary.items()) if len(words) >= 50}


def _word_negatives(
    vocabulary: dict[str, list[str]],
    writer: _Writer,
    counter: Iterator[int],
    per_language: int,
    *,
    terse: bool,
) -> Iterator[LabelledListing]:
    """Ads made of random real words of a language, none of them part of a taxonomy term.

    Such ads teach the model that an unfamiliar word is not itself a sign of wildlife.
    ``terse`` ads have one to seven words and often no price or category ("Grasmaaier.
    Benzine."): coded offers are often terse, and without these the model learns that a
    short ad is a suspicious one.
    """
    rng = writer.rng
    title_words, description_words = ((1, 3), (0, 4)) if terse else ((2, 5), (5, 20))
    for lang, words in vocabulary.items():
        for _ in range(per_language):
            title = " ".join(rng.choices(words, k=rng.randint(*title_words)))
            description = " ".join(rng.choices(words, k=rng.randint(*description_words)))
            price, currency = (None, None) if terse else writer.price(lang)
            category = rng.choice(EVERYDAY_CATEGORIES) if not terse or rng.random() < 0.5 else ""
            why = "a terse ordinary ad" if terse else "random ordinary words"
            yield LabelledListing(
                id=f"g-{next(counter):06d}", lang=lang, title=title, description=description,
                price=price, currency=currency, category=category,
                label=0, taxon=None, appendix=None, specimen=None, difficulty="easy_negative",
                rationale=f"generated: {why}", source="generated",
            )  # fmt: skip


def generate(
    taxonomy: Taxonomy,
    *,
    seed: int,
    everyday: Sequence[LabelledListing] = (),
    negatives: Sequence[LabelledListing] = (),
    positives: Sequence[LabelledListing] = (),
) -> list[LabelledListing]:
    """Generate the taxonomy-driven part of the training set.

    Args:
        taxonomy: Source of every wildlife term.
        seed: Makes the output reproducible.
        everyday: Ordinary ads (easy negatives) to place ambiguous words into.
        negatives: Negative ads whose words make random-word and terse negatives.
        positives: Offers whose shared, ordinary words join those negatives.

    Returns:
        Positives for every taxon and language with terms, and hard negatives from
        look-alikes, imitation/depiction cues and ambiguous words.

    Example:
        >>> from cites_guard.taxonomy import load_taxonomy
        >>> rows = generate(load_taxonomy(), seed=1)
        >>> {r.label for r in rows} == {0, 1}
        True
    """
    rng = random.Random(seed)
    writer = _Writer(rng)
    counter = iter(range(1, 10**9))
    rows: list[LabelledListing] = []
    # Terms the detectors treat as weak (short, generic, ambiguous) never make a positive.
    entries = terms_of(taxonomy)
    weak = {(e.target, e.term.casefold()) for e in entries if e.ambiguous}
    claims = _authenticity_claims(taxonomy, entries)
    vocabulary = _negative_vocabulary(taxonomy, negatives, positives)
    for taxon in taxonomy.taxa:
        rows.extend(_positives(taxon, writer, counter, weak, claims, vocabulary))
    rows.extend(_lookalike_negatives(taxonomy, writer, counter))
    rows.extend(_cue_negatives(taxonomy, writer, counter))
    rows.extend(_ambiguous_negatives(taxonomy, writer, counter, everyday))
    rows.extend(_everyday(writer, counter, per_language=_EVERYDAY_PER_LANGUAGE))
    rows.extend(_word_negatives(vocabulary, writer, counter, _RANDOM_PER_LANGUAGE, terse=False))
    rows.extend(_word_negatives(vocabulary, writer, counter, _TERSE_PER_LANGUAGE, terse=True))
    return rows
