from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cites_guard.normalize import (
    _normalize_any,
    _normalize_ascii,
    _normalize_vectorised,
    _plain_ascii,
    normalize,
    normalize_term,
    normalize_terms,
)
from cites_guard.taxonomy import load_taxonomy

# The module, not the function of the same name that the package exports.
normalize_module = importlib.import_module("cites_guard.normalize")
REPO = Path(__file__).resolve().parents[2]

# (trick, script/language, disguised text, expected normalised form)
TRICKS = [
    ("leetspeak", "en", "1v0ry", "ivory"),
    ("leetspeak", "en", "p4ngolin sc4les", "pangolin scales"),
    ("leetspeak", "es", "m4rf1l", "marfil"),
    ("leetspeak", "fr", "iv0ire", "ivoire"),
    ("leetspeak", "de", "3lf3nb3in", "elfenbein"),
    ("leetspeak", "it", "av0r1o", "avorio"),
    ("split letters", "en", "i.v.o.r.y", "ivory"),
    ("split letters", "en", "r h i n o", "rhino"),
    ("split letters", "es", "M-A-R-F-I-L", "marfil"),
    ("split letters", "ru", "к о с т ь", "кость"),
    ("split letters", "de", "E_L_F_E_N_B_E_I_N", "elfenbein"),
    ("split letters", "pt", "m a r f i m", "marfim"),
    ("homoglyphs", "en", "іvоrу", "ivory"),  # Cyrillic і, о, у
    ("homoglyphs", "ru", "слоновая кocть", "слоновая кость"),  # Latin o, c in Russian
    ("homoglyphs", "en", "rhinο", "rhino"),  # Greek omicron
    ("homoglyphs", "fr", "іvoire", "ivoire"),
    ("homoglyphs", "de", "Еlfеnbеin", "elfenbein"),
    ("homoglyphs", "es", "mаrfіl", "marfil"),  # Cyrillic а, і
    ("zero-width", "en", "iv\u200bory", "ivory"),
    ("zero-width", "zh", "象\u200d牙", "象牙"),
    ("zero-width", "ja", "象\ufeff牙", "象牙"),
    ("zero-width", "ru", "кос\u200cть", "кость"),
    ("zero-width", "es", "mar\u00adfil", "marfil"),
    ("CJK split", "zh", "象☆牙", "象牙"),
    ("CJK split", "zh", "穿/山/甲片", "穿山甲片"),
    ("CJK split", "ja", "象 . 牙", "象牙"),
    ("CJK split", "ko", "상*아", "상아"),
    ("CJK split", "th", "ง า ช้ า ง", "งาช้าง"),
    ("CJK split", "zh-Hant", "犀～牛～角", "犀牛角"),
    ("CJK split", "ja-Kana", "ゾ・ウ・ゲ", "ゾウゲ"),
    ("emoji", "en", "🐘🦷", "elephant toth"),
    ("emoji", "zh", "🦏角", "rhino 角"),
    ("emoji", "es", "🐯 hueso", "tiger hueso"),
    ("emoji", "fr", "🦜 à vendre", "parot a vendre"),
    ("emoji", "en", "🐢 shell", "turtle shel"),
    ("emoji", "ru", "🐘 бивень", "elephant бивень"),
    ("stretched", "en", "ivoooory", "ivory"),
    ("stretched", "es", "marfiiiil", "marfil"),
    ("stretched", "ru", "кооость", "кость"),
    ("stretched", "fr", "ivoiiiire", "ivoire"),
    ("stretched", "de", "Elfenbeeeein", "elfenbein"),
    ("fullwidth", "en", "ＩＶＯＲＹ", "ivory"),
    ("accents", "vi", "ngà voi", "nga voi"),
    ("accents", "fr", "ÉLÉPHANT", "elephant"),
    ("arabic forms", "ar", "ﺍﻟﻌﺎﺝ", "العاج"),
    ("combining marks", "en", "i\u0301v\u0308ory", "ivory"),
]


@pytest.mark.parametrize(("trick", "language", "text", "expected"), TRICKS)
def test_tricks_are_undone(trick: str, language: str, text: str, expected: str) -> None:
    """Every obfuscation trick sellers use normalises to the plain word."""
    assert normalize(text).text.strip() == expected, (trick, language)


def test_every_trick_is_covered_in_five_languages() -> None:
    """The trick table covers each trick in at least five scripts or languages."""
    by_trick: dict[str, set[str]] = {}
    for trick, language, _, _ in TRICKS:
        by_trick.setdefault(trick, set()).add(language)
    for trick in (
        "leetspeak",
        "split letters",
        "homoglyphs",
        "zero-width",
        "CJK split",
        "emoji",
        "stretched",
    ):
        assert len(by_trick[trick]) >= 5, trick


def test_span_maps_back_to_the_disguised_original() -> None:
    """A span of the view maps to the exact original slice, separators included."""
    view = normalize("Genuine i.v.o.r.y bangle")
    start = view.text.index("ivory")
    a, b = view.source_span(start, start + 5)
    assert view.original[a:b] == "i.v.o.r.y"
    assert view.was_obfuscated(start, start + 5)


def test_measurements_stay_numbers() -> None:
    """Numbers with units are not read as leetspeak."""
    assert normalize("19cm x 5kg").text == "19cm x 5kg"


def test_plain_words_are_not_flagged_obfuscated() -> None:
    """Ordinary text is not flagged as disguised."""
    view = normalize("Carved bangle, good condition")
    assert not any(view.obfuscated)


def test_terms_normalise_like_text() -> None:
    """A term and a disguised occurrence of it meet in the same form."""
    assert normalize_term("Rhino-Horn") == normalize("R.H.I.N.O horn").text


def _every_taxonomy_term() -> list[str]:
    taxonomy = load_taxonomy()
    terms = [term for taxon in taxonomy.taxa for term in taxon.all_terms()]
    terms += [
        term
        for lookalike in taxonomy.lookalikes
        for group in lookalike.terms.values()
        for term in group
    ]
    terms += [term for cue in taxonomy.cues for term in cue.terms]
    return terms


def test_batched_terms_normalise_as_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every taxonomy term, and terms only the general path takes, in a few vectorised passes."""
    tricky = ["象☆牙", "🐘 tusk", "1v0ry", "R.H.I.N.O", "ivory\u200b", "𠮷野家", "\u16a0rune", ""]
    terms = [*_every_taxonomy_term(), *tricky]
    normalize_term.cache_clear()
    monkeypatch.setattr(normalize_module, "_batched_terms", set())
    passes = 0
    vectorised = normalize_module._normalize_vectorised

    def counted(text: str) -> normalize_module.NormalizedText | None:
        nonlocal passes
        passes += 1
        return vectorised(text)

    monkeypatch.setattr(normalize_module, "_normalize_vectorised", counted)
    forms = normalize_terms(terms)
    batched_passes = passes
    assert forms == [normalize(term).text.strip() for term in terms]
    assert batched_passes < sum(not term.isascii() for term in terms) / 10


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec=None), max_size=20), max_size=40))
def test_batched_terms_equal_single_terms(terms: list[str]) -> None:
    """Whatever the terms, batching changes no form."""
    forms = {term: normalize(term).text.strip() for term in terms}
    normalize_term.cache_clear()
    normalize_module._batched_terms.clear()
    assert normalize_terms(terms) == [forms[term] for term in terms]


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80))
def test_spans_always_slice_the_original(text: str) -> None:
    """On any Unicode text, including surrogates, combining marks and RTL, offsets stay valid."""
    view = normalize(text)
    assert len(view.starts) == len(view.ends) == len(view.text) == len(view.obfuscated)
    for k in range(len(view.text)):
        start, end = view.source_span(k, k + 1)
        assert 0 <= start < end <= len(text)
    for k in range(1, len(view.text)):
        assert view.starts[k] >= view.starts[k - 1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab zé象牙.-İ1v0"), max_size=30))
def test_locate_reads_the_maps_before_they_are_tuples(text: str) -> None:
    """A detector's span look-up on a fresh view (maps still arrays, on the fast paths)
    gives what the offset tuples give."""
    built = normalize(text)
    expected = {
        (a, b): (built.starts[a], built.ends[b - 1], any(built.obfuscated[a:b]))
        for a in range(len(built.text))
        for b in range(a + 1, len(built.text) + 1)
    }
    for (a, b), want in expected.items():
        fresh = normalize(text)
        assert fresh.locate(a, b) == want
        assert all(type(v) is type(w) for v, w in zip(fresh.locate(a, b), want, strict=True))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "ivory",
                "象牙",
                "слоновая",
                "عاج",
                "\u200b",
                "\u202e",
                "e\u0301",
                " ",
                ".",
                "1",
                "🐘",
                "\ud800",
                "ﷺ",
                "ｱ",
                "\u0e49",
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_hostile_mixtures_never_raise(text: str) -> None:
    """Mixtures of scripts, bidi controls, lone surrogates and emoji never raise."""
    view = normalize(text)
    if view.text:
        a, b = view.source_span(0, len(view.text))
        assert text[a:b]


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_fast_path_equals_the_general_path(text: str) -> None:
    """The ASCII fast path gives exactly the view the general path gives."""
    assert normalize(text) == _normalize_any(text)


@pytest.mark.parametrize(
    "text",
    ["Good  offer!! ivoooory, 2x bangles", "all sell -- teeth", "a b", "a b c d", "x.y", ""],
)
def test_ascii_fast_path_examples(text: str) -> None:
    """Typical plain ads give the same view on both paths."""
    assert normalize(text) == _normalize_any(text)


_MIXED = st.text(
    alphabet=st.sampled_from(
        list("ivoryIVORY01345@$ .,-*_\n\t")
        + list("слоновакостьаеоріїÉéèàçßøłğışñ")
        + ["\u200b", "\u00ad", "\u0301", "\u00a0", "🐘", "🦷", "ﬁ", "Ｉ", "٣", "ة", "ع", "ا"]
    ),
    max_size=60,
)


@settings(max_examples=800, deadline=None)
@given(_MIXED)
def test_chunked_path_equals_the_general_path(text: str) -> None:
    """Normalising chunk by chunk gives exactly the view of the general path."""
    assert normalize(text) == _normalize_any(text)


@pytest.mark.parametrize(
    "text",
    [
        "Браслет из слоновой кости, б/у",
        "i v o r y",
        "a. b. c",
        "и в с ещё",
        "café  ï ",
        "Elfenbein-Schnitzerei, 19. Jh.",
        "sc4les  п4нголин",
        "x \u200b y",
        "🐘 🦷 bangle",
    ],
)
def test_chunked_path_examples(text: str) -> None:
    """Typical non-ASCII ads give the same view on the chunked and general paths."""
    assert normalize(text) == _normalize_any(text)


_ANY_SCRIPT = st.text(
    alphabet=st.sampled_from(
        list("ivoryIVORY013457@$ .,-/*_\n\t")
        + list("слоновакостьаеоріїαβεÉéèàçßøłğışñ")
        + list("象牙手镯犀角穿山甲，。、「」ช้างงาำ상아팔찌ぞうげ")
        + ["\u3000", "\u00a0"]
        + ["\u0301", "\u0e49", "\u200b", "ﬁ", "Ｉ", "٣", "ة", "ع", "ـ", "🐘", "\U00020001"]
    ),
    max_size=60,
)


@settings(max_examples=1500, deadline=None)
@given(_ANY_SCRIPT)
def test_vectorised_path_equals_the_general_path(text: str) -> None:
    """The array-based path gives exactly the view and maps of the general path, or declines."""
    vectorised = _normalize_vectorised(text)
    if vectorised is not None:
        assert vectorised == _normalize_any(text)
    assert normalize(text) == _normalize_any(text)


@pytest.mark.parametrize(
    "text",
    [
        "Marfil auténtico, antiguo, con pátina. Envío discreto",
        "象牙手镯，全新。 象 牙 摆件",
        "งาช้างแท้ ำ ก ำ ไล",
        "Weiß, Größe 3ft, x3, 5kg, 19cm",
        "e\u0301le\u0301phant  ivooory",
        "상아 팔찌 / 象牙",
    ],
)
def test_vectorised_path_takes_ordinary_text(text: str) -> None:
    """Typical ads in any script take the array-based path, with the general path's result."""
    vectorised = _normalize_vectorised(text)
    assert vectorised is not None
    assert vectorised == _normalize_any(text)


def test_every_corpus_text_normalises_as_on_the_general_path() -> None:
    """Over thousands of real-looking ads in 19 languages, the fast paths change nothing."""
    texts = [
        str(record[key])
        for path in sorted((REPO / "corpus").glob("*.jsonl"))
        for record in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        for key in ("title", "description")
        if record.get(key)
    ]
    assert len(texts) > 5000
    vectorised = 0
    for text in texts:
        view = normalize(text)
        assert view == _normalize_any(text), text
        vectorised += _normalize_vectorised(text) is not None
    assert vectorised / len(texts) > 0.8  # the fast path is the usual one


def test_split_letters_across_a_tab_and_punctuation_are_joined_as_by_the_general_path() -> None:
    """Found by the property test: letters split by a tab and a colon took another path."""
    assert normalize("A\t: A{A") == _normalize_any("A\t: A{A")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.sampled_from(list("ivoryIVORY tusk.,-!\n\t")), min_size=100),
        st.text(
            alphabet=st.sampled_from([*"ivoryIVORY tusk.,-!\n\t01@$", "\x00", "\x7f"]),
            min_size=100,
            max_size=300,
        ),
    )
)
def test_long_ascii_fast_path_equals_the_general_path(text: str) -> None:
    """Long ASCII text (built with arrays, not regular expressions) gives the general path's
    view, and plain ASCII takes the fast path at every length."""
    assert normalize(text) == _normalize_any(text)
    if _plain_ascii(text):
        assert normalize(text) == _normalize_ascii(text)
