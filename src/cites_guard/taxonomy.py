"""The CITES taxonomy cites-guard knows: listed taxa, their names and trade terms, look-alikes.

The data ships inside the package as JSON Lines under ``cites_guard/data``:

- ``taxa/*.jsonl``: one :class:`Taxon` per line (scientific name, rank, appendix after CoP20,
  group, common names, product terms and code words per language).
- ``lookalikes/*.jsonl``: one :class:`Lookalike` per line: things that are *not* CITES-listed
  but are easily confused with something that is (mammoth ivory, budgerigars, acetate
  "tortoiseshell"). Their terms lower the risk.
- ``cues/*.jsonl``: one :class:`Cue` per line: negations and imitation words ("faux",
  "not real", "replica") per language.

Data is validated on load; an error names the file, the line and the field. Marketplaces add
their own entries with :func:`load_taxonomy` ``extra_paths`` (or the ``taxonomy.extra_files``
setting) without forking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cites_guard.assessment import Appendix, Specimen
from cites_guard.errors import TaxonomyError

__all__ = [
    "GROUPS",
    "LANGUAGES",
    "Cue",
    "Group",
    "Lookalike",
    "Taxon",
    "Taxonomy",
    "load_taxonomy",
]

#: Languages the bundled data covers (ISO 639-1).
LANGUAGES: tuple[str, ...] = (
    "en", "fr", "de", "es", "pt", "it", "nl", "pl", "ru", "ar",
    "zh", "ja", "ko", "vi", "th", "id", "ms", "sw", "tr",
)  # fmt: skip

Group = Literal[
    "elephants",
    "rhinoceroses",
    "pangolins",
    "big_cats",
    "bears",
    "primates",
    "marine_mammals",
    "antelopes_deer",
    "other_mammals",
    "parrots",
    "raptors",
    "hornbills",
    "other_birds",
    "tortoises_turtles",
    "crocodilians",
    "snakes",
    "lizards",
    "amphibians",
    "sharks_rays",
    "fish",
    "corals_marine_invertebrates",
    "insects_arachnids",
    "orchids",
    "cacti_succulents",
    "timber",
    "aromatic_medicinal_plants",
    "other_plants",
]
#: Every taxon group, in the order the model's group heads use.
GROUPS: tuple[str, ...] = get_args(Group)

Rank = Literal["class", "order", "family", "subfamily", "genus", "species", "subspecies"]

_TermsByLanguage = dict[str, list[str]]
_EntryT = TypeVar("_EntryT", bound=BaseModel)

_SPP = re.compile(r"\s+(spp|sp|ssp)\.?$")
_MAX_LOOKUPS = 100_000  # memoised name lookups; far more than the taxa and their synonyms
_SCIENTIFIC = re.compile(r"^[A-Z][a-z]+(?: [a-z][a-z-]+(?: [a-z][a-z-]+)?)?$")


def _check_languages(value: _TermsByLanguage, field: str) -> _TermsByLanguage:
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"{field}: unknown language codes {unknown}; valid: {list(LANGUAGES)}")
    cleaned: _TermsByLanguage = {}
    for lang, terms in value.items():
        kept = []
        for term in terms:
            stripped = term.strip()
            if not stripped:
                raise ValueError(f"{field}[{lang}]: empty term")
            if stripped not in kept:
                kept.append(stripped)
        cleaned[lang] = kept
    return cleaned


class Taxon(BaseModel):
    """One CITES-listed taxon (species, genus, family or higher) as cites-guard uses it.

    ``appendix`` is the listing after CoP20 (2025) for the population most often traded;
    ``appendix_note`` records split listings and annotations that can change it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="CITES standard scientific name at its rank, e.g. 'Manis'.")
    rank: Rank
    appendix: Appendix
    appendix_note: str | None = None
    group: Group
    parent: str | None = Field(default=None, description="Scientific name of the parent taxon.")
    synonyms: list[str] = Field(default_factory=list)
    names: _TermsByLanguage = Field(description="Common names per language.")
    products: _TermsByLanguage = Field(
        default_factory=dict, description="Part and product terms specific to this taxon."
    )
    code_words: _TermsByLanguage = Field(
        default_factory=dict, description="Trade jargon and euphemisms sellers use for it."
    )
    ambiguous_terms: list[str] = Field(
        default_factory=list,
        description="Terms above that often mean something else on a marketplace (colours, "
        "brands, cars); they count as weak evidence unless context supports them.",
    )
    traded_as: list[Specimen] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _scientific(cls, value: str) -> str:
        if not _SCIENTIFIC.match(value):
            raise ValueError(
                f"{value!r} is not a scientific name (Genus, 'Genus species' or "
                "'Genus species subspecies'; no 'spp.')"
            )
        return value

    @field_validator("names", "products", "code_words")
    @classmethod
    def _languages(cls, value: _TermsByLanguage, info: object) -> _TermsByLanguage:
        return _check_languages(value, getattr(info, "field_name", "terms"))

    @model_validator(mode="after")
    def _english_name(self) -> Taxon:
        if not self.names.get("en"):
            raise ValueError("names: an English name is required")
        every = {t.casefold() for t in self.all_terms()}
        missing = [t for t in self.ambiguous_terms if t.casefold() not in every]
        if missing:
            raise ValueError(f"ambiguous_terms {missing} are not among the taxon's terms")
        return self

    @property
    def common_name(self) -> str:
        """The first English common name."""
        return self.names["en"][0]

    def all_terms(self) -> Iterator[str]:
        """Every name, product term and code word, in all languages."""
        for table in (self.names, self.products, self.code_words):
            for terms in table.values():
                yield from terms


class Lookalike(BaseModel):
    """Something that is not CITES-listed but is easily mistaken for something that is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Short English label, e.g. 'mammoth ivory'.")
    kind: Literal["species", "material", "imitation", "brand", "pattern", "depiction", "other"]
    resembles: list[str] = Field(
        min_length=1, description="Scientific names or groups it is confused with."
    )
    reason: str = Field(description="Why it is not a CITES specimen, in one sentence.")
    terms: _TermsByLanguage

    @field_validator("terms")
    @classmethod
    def _languages(cls, value: _TermsByLanguage) -> _TermsByLanguage:
        return _check_languages(value, "terms")


#: Cue kinds that deny a look-alike rather than weaken a wildlife term (see :class:`Cue`).
DENIAL_KINDS: tuple[str, ...] = ("denial", "postposed_denial")


class Cue(BaseModel):
    """Words that say the item is not the real thing, or that deny a look-alike.

    ``negation``, ``imitation`` and ``depiction`` words ("not real", "faux", "plush") weaken
    a wildlife term next to them. Denials do the opposite: "not resin" claims the real
    thing, so the look-alike they deny does not count. ``denial`` words stand before the
    look-alike ("not resin", "不是树脂"); ``postposed_denial`` words follow it, as in
    Japanese, Korean and Turkish ("樹脂ではない").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["negation", "imitation", "depiction", "denial", "postposed_denial"]
    lang: str
    terms: list[str] = Field(min_length=1)

    @field_validator("lang")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"unknown language {value!r}; valid: {list(LANGUAGES)}")
        return value


class Taxonomy:
    """The loaded, validated taxonomy, indexed by name.

    Build it with :func:`load_taxonomy`; it is immutable afterwards.
    """

    def __init__(
        self,
        taxa: Sequence[Taxon],
        lookalikes: Sequence[Lookalike],
        cues: Sequence[Cue],
        *,
        version: str,
    ) -> None:
        """Index the entries; raise :class:`TaxonomyError` on duplicates or dangling parents."""
        self.taxa: tuple[Taxon, ...] = tuple(taxa)
        self.lookalikes: tuple[Lookalike, ...] = tuple(lookalikes)
        self.cues: tuple[Cue, ...] = tuple(cues)
        self.version = version
        self.lookalikes_by_name: dict[str, Lookalike] = {lk.name: lk for lk in self.lookalikes}
        self._by_name: dict[str, Taxon] = {}
        self._lookups: dict[str, Taxon | None] = {}
        for taxon in self.taxa:
            key = taxon.name.casefold()
            if key in self._by_name:
                raise TaxonomyError(f"taxon {taxon.name!r} is defined twice")
            self._by_name[key] = taxon
        for taxon in self.taxa:
            for synonym in taxon.synonyms:
                self._by_name.setdefault(synonym.casefold(), taxon)
        for taxon in self.taxa:
            if taxon.parent is not None and taxon.parent.casefold() not in self._by_name:
                raise TaxonomyError(
                    f"taxon {taxon.name!r} names parent {taxon.parent!r}, which is not defined"
                )
        # Keyed by name, with the taxon itself: a taxon from elsewhere that shares a name
        # walks up its own parents (see lineage).
        self._lineages: dict[str, tuple[Taxon, tuple[str, ...]]] = {
            t.name: (t, self._walk_up(t)) for t in self.taxa
        }
        self._above_appendix_one = frozenset(
            name
            for taxon, lineage in self._lineages.values()
            if taxon.appendix == "I"
            for name in lineage[1:]
        )
        # The broadest taxon of each group, first in the file among equals.
        ranks = ("class", "order", "family", "subfamily", "genus", "species", "subspecies")
        self._representatives: dict[str, Taxon] = {}
        for taxon in sorted(self.taxa, key=lambda t: ranks.index(t.rank)):
            self._representatives.setdefault(taxon.group, taxon)

    def __len__(self) -> int:
        """Number of taxa."""
        return len(self.taxa)

    def _walk_up(self, taxon: Taxon) -> tuple[str, ...]:
        names = [taxon.name]
        parent = taxon.parent
        while parent is not None and parent not in names:
            names.append(parent)
            found = self.get(parent)
            parent = found.parent if found else None
        return tuple(names)

    def holds_appendix_one(self, name: str) -> bool:
        """Whether a taxon has Appendix I taxa below it (Felidae: the tiger, the leopard).

        Example:
            >>> load_taxonomy().holds_appendix_one("Felidae")
            True
        """
        taxon = self.get(name)
        return taxon is not None and taxon.name in self._above_appendix_one

    def lineage(self, taxon: Taxon) -> tuple[str, ...]:
        """The taxon's name, then its parent's, up to the root (computed once, at load).

        Example:
            >>> load_taxonomy().lineage(load_taxonomy().get("Psittacus erithacus"))[-1]
            'Psittaciformes'
        """
        known = self._lineages.get(taxon.name)
        if known is not None and known[0] is taxon:
            return known[1]
        return self._walk_up(taxon)  # a taxon from elsewhere: its own parents

    def get(self, name: str) -> Taxon | None:
        """Find a taxon by scientific name or synonym.

        Accepts the forms people write: ``'Manis spp.'``, ``'manis'``, a species whose genus
        is listed as a whole (``'Amazona aestiva'`` falls back to ``'Amazona'`` only when the
        species is not listed itself).

        Example:
            >>> load_taxonomy().get("Manis spp.").rank
            'genus'
        """
        try:
            return self._lookups[name]
        except KeyError:
            pass
        cleaned = _SPP.sub("", name.strip()).casefold()
        found = self._by_name.get(cleaned)
        if found is None and " " in cleaned:
            found = self._by_name.get(cleaned.rsplit(" ", 1)[0])
            if found is None:
                found = self._by_name.get(cleaned.split(" ", 1)[0])
        if len(self._lookups) < _MAX_LOOKUPS:  # scoring asks for the same few names again
            self._lookups[name] = found
        return found

    def group_of(self, name: str) -> str | None:
        """The group of a taxon named by scientific name, or ``None`` when unknown."""
        taxon = self.get(name)
        return taxon.group if taxon else None

    def representative(self, group: str) -> Taxon | None:
        """The broadest taxon of a group (an order or family before a species).

        Used to name what the model saw when no term in the ad names a taxon.
        """
        return self._representatives.get(group)

    def search(self, query: str) -> list[Taxon]:
        """Taxa whose scientific name, synonym or any term contains ``query`` (case-folded)."""
        needle = query.casefold().strip()
        return [
            t
            for t in self.taxa
            if needle in t.name.casefold()
            or any(needle in s.casefold() for s in t.synonyms)
            or any(needle in term.casefold() for term in t.all_terms())
        ]


def _read_jsonl(path: Path, model: type[_EntryT]) -> Iterator[_EntryT]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy file: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield model.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<entry>'}: {err['msg']}"
                for err in exc.errors()
            )
            raise TaxonomyError(f"{path}:{number}: invalid {model.__name__}: {problems}") from exc


def _bundled_dir() -> Path:
    return Path(str(resources.files("cites_guard") / "data"))


def _entries(
    directories: Iterable[Path], extra_paths: Iterable[Path]
) -> tuple[list[Taxon], list[Lookalike], list[Cue]]:
    taxa: list[Taxon] = []
    lookalikes: list[Lookalike] = []
    cues: list[Cue] = []
    for directory in directories:
        for path in sorted((directory / "taxa").glob("*.jsonl")):
            taxa.extend(_read_jsonl(path, Taxon))
        for path in sorted((directory / "lookalikes").glob("*.jsonl")):
            lookalikes.extend(_read_jsonl(path, Lookalike))
        for path in sorted((directory / "cues").glob("*.jsonl")):
            cues.extend(_read_jsonl(path, Cue))
    for path in extra_paths:
        taxa_part, lookalike_part, cue_part = _read_extra(Path(path))
        taxa.extend(taxa_part)
        lookalikes.extend(lookalike_part)
        cues.extend(cue_part)
    return taxa, lookalikes, cues


def _read_extra(path: Path) -> tuple[list[Taxon], list[Lookalike], list[Cue]]:
    """Read a user file mixing entries; each line says what it is with ``"type"``."""
    taxa: list[Taxon] = []
    lookalikes: list[Lookalike] = []
    cues: list[Cue] = []
    kinds: dict[str, type[BaseModel]] = {"taxon": Taxon, "lookalike": Lookalike, "cue": Cue}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read extra taxonomy file: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            kind = raw.pop("type", "taxon")
            model = kinds[kind]
            entry = model.model_validate(raw)
        except json.JSONDecodeError as exc:
            raise TaxonomyError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
        except KeyError as exc:
            raise TaxonomyError(
                f"{path}:{number}: unknown entry type {exc.args[0]!r}; valid: {sorted(kinds)}"
            ) from exc
        except (ValidationError, AttributeError) as exc:
            raise TaxonomyError(f"{path}:{number}: invalid entry: {exc}") from exc
        if isinstance(entry, Taxon):
            taxa.append(entry)
        elif isinstance(entry, Lookalike):
            lookalikes.append(entry)
        elif isinstance(entry, Cue):
            cues.append(entry)
    return taxa, lookalikes, cues


def _version(directory: Path) -> str:
    path = directory / "VERSION"
    return path.read_text(encoding="utf-8").strip() if path.exists() else "unversioned"


@cache
def _load_bundled() -> Taxonomy:
    directory = _bundled_dir()
    taxa, lookalikes, cues = _entries([directory], [])
    return Taxonomy(taxa, lookalikes, cues, version=_version(directory))


def load_taxonomy(extra_paths: Sequence[str | Path] = ()) -> Taxonomy:
    """Load the bundled taxonomy, plus the user's extra entry files.

    Extra files are JSON Lines; each line is a taxon, a look-alike or a cue, told apart by a
    ``"type"`` key (``"taxon"`` when absent). An extra taxon with the name of a bundled one
    is an error: add a new name, or put new terms in a taxon of your own.

    Args:
        extra_paths: User files to merge in.

    Returns:
        The validated taxonomy. The bundled one alone is cached.

    Raises:
        TaxonomyError: An entry is invalid; the message names file, line and field.

    Example:
        >>> len(load_taxonomy()) > 100
        True
    """
    if not extra_paths:
        return _load_bundled()
    bundled = _load_bundled()
    taxa, lookalikes, cues = _entries([], [Path(p) for p in extra_paths])
    version = bundled.version + "+local"
    return Taxonomy(
        [*bundled.taxa, *taxa],
        [*bundled.lookalikes, *lookalikes],
        [*bundled.cues, *cues],
        version=version,
    )
