from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cites_guard import ExtraTerm, Guard, Settings, TaxonomySettings
from cites_guard.config import ModelSettings
from cites_guard.detectors import TermDetector, TermEntry
from cites_guard.normalize import normalize

# (language, title, expected taxon, the original slice the evidence must quote)
DISGUISED = [
    ("en", "Antique 1v0ry bangle, estate find", "Elephantidae", "1v0ry"),
    ("en", "r h i n o  horn cup, old", "Rhinocerotidae", "r h i n o  horn"),
    ("fr", "Bracelet en i.v.o.i.r.e ancien", "Elephantidae", "i.v.o.i.r.e"),
    ("es", "Figura de mаrfіl tallada", "Elephantidae", "mаrfіl"),
    ("de", "Elfenbeeeein Schnitzerei", "Elephantidae", "Elfenbeeeein"),
    ("zh", "老象☆牙手镯 包浆好", "Elephantidae", "象☆牙"),
    ("ja", "象\u200b牙 印鑑 実印", "Elephantidae", "象\u200b牙"),
    ("ru", "Браслет из слоновой кocти", "Elephantidae", None),
    ("th", "กำไล ง า ช้ า ง แท้", "Elephantidae", "ง า ช้ า ง"),
    ("en", "p4ngolin sc4les 500g", "Manis", "p4ngolin"),
    ("zh", "穿/山/甲片 500克", "Manis", "穿/山/甲"),
    ("en", "🐘🦷 carving for sale", "Elephantidae", None),
]


@pytest.mark.parametrize(("lang", "title", "taxon", "quoted"), DISGUISED)
def test_disguised_words_still_name_the_taxon(
    evidence_guard: Guard, lang: str, title: str, taxon: str, quoted: str | None
) -> None:
    """A disguised product word still names its taxon, quoting the original slice."""
    result = evidence_guard.assess({"id": "x", "title": title, "language": lang})
    lineage_names = {m.taxon for m in result.matches}
    found = next(
        (
            m
            for m in result.matches
            if m.taxon == taxon or evidence_guard.taxonomy.get(m.taxon).parent == taxon
        ),
        None,
    )
    assert found is not None, (title, lineage_names)
    for evidence in found.evidence:
        assert title[evidence.start : evidence.end] == evidence.text
    if quoted is not None:
        assert any(quoted in e.text or e.text in quoted for e in found.evidence), found.evidence
        assert any(e.obfuscated for e in found.evidence)


@pytest.mark.parametrize(
    ("title", "quoted"),
    [
        ("صندوق خشب مطعم بالعاج", "عاج"),  # "with the ivory": article and preposition attached
        ("مسبحة العاج القديمة", "عاج"),  # "the ivory"
        ("عاج وعاج", "عاج"),  # "and ivory"
    ],
)
def test_arabic_article_and_prepositions_do_not_hide_a_term(
    evidence_guard: Guard, title: str, quoted: str
) -> None:
    """Arabic writes ال, ب, و... as part of the next word; the term is still found."""
    result = evidence_guard.assess({"id": "x", "title": title, "language": "ar"})
    evidence = [e for m in result.matches if m.taxon == "Elephantidae" for e in m.evidence]
    assert evidence, result.matches
    assert all(e.text == quoted == title[e.start : e.end] for e in evidence)


def test_arabic_letters_inside_a_word_are_no_proclitic(evidence_guard: Guard) -> None:
    """A term inside a longer word, after letters that are no article or preposition, is none."""
    result = evidence_guard.assess({"id": "x", "title": "مساعاج", "language": "ar"})
    assert not result.matches


@pytest.mark.parametrize(
    ("title", "lookalike"),
    [
        ("犀牛角手镯 老料", None),
        ("水牛角手镯 老料", "水牛角"),
        ("mammoth ivory bangle", "mammoth ivory"),
    ],
)
def test_a_lookalike_inside_a_longer_taxon_term_is_none(
    evidence_guard: Guard, title: str, lookalike: str | None
) -> None:
    """牛角 (cattle horn) inside 犀牛角 (rhino horn) is no look-alike; 水牛角 (buffalo horn) is."""
    result = evidence_guard.assess({"id": "x", "title": title})
    texts = {e.text for e in result.lookalikes}
    if lookalike is None:
        assert not texts
        assert result.matches[0].taxon == "Rhinocerotidae"
    else:
        assert lookalike in texts
        assert result.risk < 0.5


@pytest.mark.parametrize(
    ("lang", "title"),
    [
        ("sw", "Kikombe cha pembe ya kifaru kilichochongwa"),
        ("de", "Tasse aus Rhinozeroshorn, geschnitzt"),
        ("es", "Taza de cuerno de rinoceronte tallada"),
        ("zh", "犀牛角杯子 雕花"),
    ],
)
def test_a_cup_is_a_product_not_a_depiction(evidence_guard: Guard, lang: str, title: str) -> None:
    """Rhino horn cups are traded: "cup" is no depiction cue, only "mug" and its kin are."""
    result = evidence_guard.assess({"id": "x", "title": title, "language": lang})
    assert not result.lookalikes, result.lookalikes
    assert result.matches[0].taxon == "Rhinocerotidae"


@pytest.mark.parametrize(
    ("real", "lookalike"),
    [
        ("Carved ivory bangle, antique", "Carved mammoth ivory bangle, antique"),
        ("Carved ivory bangle, antique", "Carved faux ivory bangle, antique"),
        ("Vintage tortoiseshell hair comb", "Tortoiseshell acetate glasses frame"),
        ("Hand-fed African grey parrot chick", "Hand-fed budgerigar chick"),
        ("Rhino horn carving", "Water buffalo horn carving"),
    ],
)
def test_lookalikes_lower_the_risk(evidence_guard: Guard, real: str, lookalike: str) -> None:
    """A look-alike cue makes the same ad less risky than the real thing."""
    real_risk = evidence_guard.assess({"id": "r", "title": real}).risk
    lookalike_result = evidence_guard.assess({"id": "l", "title": lookalike})
    assert lookalike_result.risk < real_risk
    assert lookalike_result.lookalikes or lookalike_result.risk < 0.5


@pytest.mark.parametrize(
    ("claim", "imitation"),
    [
        ("Carved ivory bangle, heavy, not resin", "Carved ivory-look resin bangle, heavy"),
        ("象牙の根付 樹脂ではありません", "象牙風 樹脂の根付"),
        ("กำไลงาช้าง เก่า ไม่ใช่เรซิ่น", "กำไลเรซิ่น ลายงาช้าง"),
        ("Brazalete de marfil tallado, no es resina", "Brazalete de resina tallado tipo marfil"),
    ],
)
def test_a_denied_lookalike_does_not_lower_the_risk(
    evidence_guard: Guard, claim: str, imitation: str
) -> None:
    """ "Not resin" claims the real thing: the denied look-alike neither covers nor damps
    the wildlife term, and the assessment says which word denied it."""
    claimed = evidence_guard.assess({"id": "a", "title": claim})
    imitated = evidence_guard.assess({"id": "b", "title": imitation})
    assert not claimed.lookalikes
    assert claimed.risk > imitated.risk


@pytest.mark.parametrize(
    "title",
    [
        "Resin bangle, not ivory",  # the denial negates the ivory, not the resin
        "No box. Faux ivory bangle",  # punctuation ends the denial
        "Item No. 12 faux ivory netsuke",  # a number is not a short word
        "樹脂、象牙ではない",
        "레진 상아 아님",  # another term stands between them
        "不是象牙，树脂手镯",
        "非洲仿象牙手镯",  # 非 of 非洲 (Africa) is no denial
        "Ivory? No, resin.",
    ],
)
def test_a_denial_must_stand_next_to_the_lookalike(evidence_guard: Guard, title: str) -> None:
    """A denial counts only right beside the word it denies, with nothing else between."""
    result = evidence_guard.assess({"id": "x", "title": title})
    assert result.lookalikes
    assert result.decision == "allow"


@pytest.mark.parametrize(
    ("language", "title", "foreign_cue"),
    [
        # English "tee" (a T-shirt, a depiction) inside an Italian ad.
        ("it", "Bracciale in avorio antico, con tee", "tee"),
        ("pt-BR", "Pulseira de marfim antiga, com tee", "tee"),
    ],
)
def test_cues_of_another_language_do_not_lower_the_risk(
    evidence_guard: Guard, language: str, title: str, foreign_cue: str
) -> None:
    """A look-alike or negation cue counts only in the ad's language; without a language
    (none given, none detected) every language's cues still apply."""
    told = evidence_guard.assess({"id": "a", "title": title, "language": language})
    assert foreign_cue not in {e.term for e in told.lookalikes}
    assert told.decision != "allow"
    untold = evidence_guard.assess({"id": "b", "title": title, "language": "xx"})
    assert foreign_cue in {e.term for e in untold.lookalikes}
    assert untold.risk < told.risk


@pytest.mark.parametrize("language", ["vi", None])
def test_accents_the_seller_typed_must_be_the_cues_own(
    evidence_guard: Guard, language: str | None
) -> None:
    """Vietnamese "giá" (price) and "sạch" (clean) fold to the forms of "giả" (fake) and
    "sách" (book), but they are not those words; unaccented "gia" still reads as a cue."""
    typed = evidence_guard.assess(
        {"id": "a", "title": "Vảy tê tê khô, sạch, giá sỉ", "language": language}
    )
    assert not {"giả", "sách"} & {e.term for e in typed.lookalikes}
    assert typed.decision != "allow"
    bare = evidence_guard.assess({"id": "b", "title": "Vay te te kho gia", "language": "vi"})
    assert "giả" in {e.term for e in bare.lookalikes}


def test_a_cue_listed_in_several_languages_counts_in_each(evidence_guard: Guard) -> None:
    """One term, one meaning, several languages: merged into one entry that keeps them all."""
    entries = [
        TermEntry("resina", "negation", "es", "imitation"),
        TermEntry("resina", "negation", "it", "imitation"),
        TermEntry("resina", "negation", "pt", "imitation"),
    ]
    (hit,) = TermDetector(entries).detect("title", normalize("resina"))
    assert [hit.entry.listed_in(lang) for lang in ("es", "it", "pt", "en")] == [
        True,
        True,
        True,
        False,
    ]
    result = evidence_guard.assess(
        {"id": "x", "title": "Bracciale in resina tipo avorio", "language": "it"}
    )
    assert "resina" in {e.term for e in result.lookalikes}


def test_a_denial_listed_as_a_cue_too_does_not_damp_the_claim(evidence_guard: Guard) -> None:
    """并非 (is not) denies the resin; it must not also count as a negation of the ivory."""
    assert evidence_guard.assess({"id": "x", "title": "象牙手镯，并非树脂"}).decision == "block"


def test_empty_listing_is_allowed_and_flagged(evidence_guard: Guard) -> None:
    """A listing with no text is allowed with the empty flag, not an error."""
    result = evidence_guard.assess({"id": "empty"})
    assert (result.decision, result.empty) == ("allow", True)


def test_every_step_is_explained(evidence_guard: Guard) -> None:
    """The assessment lists each stage and the rule that decided."""
    result = evidence_guard.assess({"id": "1", "title": "Pangolin scales 1kg"})
    assert result.steps[0].stage == "evidence"
    assert result.steps[-1].stage == "policy"
    assert result.rule in result.steps[-1].detail


def test_extra_terms_come_from_settings() -> None:
    """A marketplace adds its own code word through settings, without forking."""
    term = ExtraTerm(term="zzwhitegoldzz", kind="code_word", target="Elephantidae")
    guard = Guard(
        settings=Settings(
            taxonomy=TaxonomySettings(extra_terms=(term,)), model=ModelSettings(enabled=False)
        )
    )
    result = guard.assess({"id": "1", "title": "selling zzwhitegoldzz bangle"})
    assert result.matches[0].taxon == "Elephantidae"


def test_extra_taxa_come_from_a_file(tmp_path: Path) -> None:
    """A marketplace adds a taxon in a JSONL file named by the settings."""
    entry = {
        "type": "taxon",
        "name": "Zzfictus localis",
        "rank": "species",
        "appendix": "III",
        "group": "other_mammals",
        "names": {"en": ["zzlocal critter"]},
    }
    path = tmp_path / "extra.jsonl"
    path.write_text(json.dumps(entry) + "\n")
    guard = Guard(
        settings=Settings(
            taxonomy=TaxonomySettings(extra_files=(path,)), model=ModelSettings(enabled=False)
        )
    )
    result = guard.assess({"id": "1", "title": "zzlocal critter for sale"})
    assert result.matches[0].taxon == "Zzfictus localis"
    assert result.taxonomy_version.endswith("+local")


def test_custom_detector_plugs_in(evidence_guard: Guard) -> None:
    """A detector added to the registry contributes evidence."""
    guard = Guard(settings=evidence_guard.settings, taxonomy=evidence_guard.taxonomy)
    guard.detectors.add(TermDetector([TermEntry("qqcode", "code_word", "en", "Manis")]))
    assert guard.assess({"id": "1", "title": "qqcode 1kg"}).matches[0].taxon == "Manis"


@settings(max_examples=150, deadline=None)
@given(
    prefix=st.text(max_size=30),
    word=st.sampled_from(["ivory", "1v0ry", "象牙", "i.v.o.r.y", "rhino horn", "pangolin"]),
    suffix=st.text(max_size=30),
)
def test_evidence_spans_slice_the_original_field(
    evidence_guard: Guard, prefix: str, word: str, suffix: str
) -> None:
    """Whatever surrounds a term, each evidence span is the exact original slice."""
    title = f"{prefix} {word} {suffix}"
    result = evidence_guard.assess({"id": "p", "title": title, "description": suffix})
    for match in result.matches:
        for evidence in match.evidence:
            field = title if evidence.field == "title" else suffix
            assert field[evidence.start : evidence.end] == evidence.text


@pytest.mark.parametrize(
    ("language", "lookalike", "real"),
    [
        # Beko, the appliance brand, reads as "bekko" once its doubled letter is folded.
        ("tr", "Beko buzdolabı no frost", "Bekko tarak, antika"),
        ("fr", "Cuisinière Beko 4 feux gaz", "Peigne en bekko ancien"),
        ("vi", "Ốp lưng iPhone vân đồi mồi", "Lược đồi mồi thật, vân đẹp"),
        ("ja", "べっ甲風 バレッタ アクリル", "本べっ甲 かんざし 昭和"),
        ("pl", "Kawior z lumpa czarny 100 g", "Kawior z jesiotra 100 g"),
    ],
)
def test_brand_pattern_and_roe_lookalikes_leave_the_real_thing_named(
    evidence_guard: Guard, language: str, lookalike: str, real: str
) -> None:
    """Each look-alike names its cue and no taxon; the real ad in the same words is named."""
    cued = evidence_guard.assess({"id": "a", "title": lookalike, "language": language})
    named = evidence_guard.assess({"id": "b", "title": real, "language": language})
    assert cued.lookalikes
    assert not cued.matches
    assert named.matches
    assert not named.lookalikes


@pytest.mark.parametrize(
    ("traditional", "simplified", "span"),
    [
        ("出售 熊膽粉 正品", "出售 熊胆粉 正品", "熊膽粉"),
        ("奶奶留下的 象牙手鐲", "奶奶留下的 象牙手镯", "象牙手鐲"),
        ("鱷魚皮 手袋 真皮", "鳄鱼皮 手袋 真皮", "鱷魚皮"),
    ],
)
def test_traditional_characters_match_terms_written_in_simplified(
    evidence_guard: Guard, traditional: str, simplified: str, span: str
) -> None:
    """Taiwan and Hong Kong ads name the same taxon; evidence quotes the seller's own text."""
    written = evidence_guard.assess({"id": "t", "title": traditional, "language": "zh"})
    reference = evidence_guard.assess({"id": "s", "title": simplified, "language": "zh"})
    assert written.matches
    assert written.matches[0].taxon == reference.matches[0].taxon
    texts = {e.text for m in written.matches for e in m.evidence}
    assert span in texts
    assert all(traditional[e.start : e.end] == e.text for m in written.matches for e in m.evidence)


@pytest.mark.parametrize("title", ["花园 多肉 出售", "原种 多肉 出售", "蝴蝶标本 出售"])
def test_japanese_terms_do_not_become_simplified_chinese_words(
    evidence_guard: Guard, title: str
) -> None:
    """Japanese 花園 (a code word), 原種 and 標本 stay Japanese: 花园 is just "garden"."""
    result = evidence_guard.assess({"id": "z", "title": title, "language": "zh"})
    assert all(e.language != "ja" for m in result.matches for e in m.evidence)


def test_a_traditional_lookalike_is_a_lookalike(evidence_guard: Guard) -> None:
    """銀龍魚 (silver arowana, not listed) is the look-alike listed as 银龙鱼."""
    result = evidence_guard.assess({"id": "a", "title": "銀龍魚 30cm 連缸一起出", "language": "zh"})
    assert "銀龍魚" in {e.text for e in result.lookalikes}
    assert not result.matches


@pytest.mark.parametrize(
    ("title", "named"),
    [
        ("Bán sói con 3 tháng", True),  # sói, wolf, as listed
        ("Ban soi con 3 thang", True),  # no accents typed: still the term
        ("Dây buộc 10 sợi, màu xám", False),  # sợi, a strand: other accents, another word
        ("T4C KÈ khô 1 cặp", True),  # tắc kè with accents dropped by the disguise
        ("bán " + "".join(c + "\u0336" for c in "sừng tê giác"), True),  # struck through
        ("bán " + "".join(c + "\u0332" for c in "sung te giac"), True),  # underlined
    ],
)
def test_vietnamese_terms_keep_their_accents(
    evidence_guard: Guard, title: str, named: bool
) -> None:
    result = evidence_guard.assess({"id": "v", "title": title, "language": "vi"})
    assert bool(result.matches) is named


@pytest.mark.parametrize(
    ("language", "lookalike"),
    [
        ("ru", "Билет на Сапсан Москва–СПб 28.12"),
        ("pt", "Faço sua declaração pro Leão, imposto de renda"),
        ("nl", "Zeeuwse mosselen, vandaag ophalen"),
        ("de", "Weihnachtsstern XXL rot, Euphorbia pulcherrima"),
        ("vi", "Kẹp cá sấu 2 đầu, bộ 10 sợi"),
        ("en", "Crocodile clips x50 with test leads"),
        ("fr", "Défenses de phacochère sur socle"),
        ("it", "Caviale di lumaca 50 g"),
        ("id", "Gelembung ikan tenggiri kering 250 gr"),
    ],
)
def test_everyday_namesakes_and_substitutes_name_no_taxon(
    evidence_guard: Guard, language: str, lookalike: str
) -> None:
    result = evidence_guard.assess({"id": "l", "title": lookalike, "language": language})
    assert result.lookalikes
    assert not result.matches
