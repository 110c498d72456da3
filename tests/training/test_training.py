from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from cites_guard.dataset import LabelledListing, read_labelled
from cites_guard.errors import TrainingError
from cites_guard.guard import Guard
from cites_guard.model import OnnxScorer, create_session
from cites_guard.taxonomy import load_taxonomy
from cites_guard.training import TrainingConfig, train
from cites_guard.training._export import OUTPUTS, export, read_back
from cites_guard.training._network import Ensemble, NgramClassifier
from cites_guard.training.generator import generate
from cites_guard.training.pipeline import (
    COUNTERFACTUAL,
    COUNTERFACTUAL_TARGET,
    _drop_tokens,
    assemble,
    counterfactual_negatives,
    title_views,
)

REPO = Path(__file__).resolve().parents[2]
DEV_SET = REPO.parent / "shared" / "data" / "dev-listings.jsonl"
TERSE = "generated: a terse ordinary ad"


def _tiny_config(output: Path, *, limit: int) -> TrainingConfig:
    """A training run small enough for a test: one epoch, tiny tables, a few hundred rows."""
    return TrainingConfig(
        output=output,
        corpus=REPO / "corpus",
        epochs=1,
        vocab_size=800,
        buckets=1024,
        dim=16,
        hidden=16,
        limit=limit,
    )


def test_small_training_run_produces_a_loadable_model(tmp_path: Path) -> None:
    """A short training run writes a model that loads, verifies and scores."""
    config = dataclasses.replace(_tiny_config(tmp_path / "model", limit=400), members=2)
    result = train(config)
    assert result.metrics["onnx_parity_max_abs_diff"] < 1e-3
    graph = onnx.load(str(tmp_path / "model" / "model.onnx")).graph
    assert {i.name for i in graph.initializer} >= {"m0_unigram_table", "m1_unigram_table"}
    scorer = OnnxScorer(tmp_path / "model")
    assert scorer.fusion is not None  # fitted on the calibration split, which has both labels
    ((risk, groups, appendix_one),) = scorer.probabilities(["ivory bangle"])
    assert 0.0 <= risk <= 1.0
    assert set(groups) == set(scorer.groups)
    assert appendix_one is not None  # the Appendix I head
    assert 0.0 <= appendix_one <= 1.0


def test_generator_is_reproducible() -> None:
    """The same seed generates the same listings."""
    taxonomy = load_taxonomy()
    first = [r.title for r in generate(taxonomy, seed=5)[:200]]
    assert first == [r.title for r in generate(taxonomy, seed=5)[:200]]


def _labelled(index: int, label: int, title: str, taxon: str | None = None) -> LabelledListing:
    return LabelledListing(
        id=f"t-{index}", lang="en", title=title, description="", price=None, currency=None,
        category="", label=label, taxon=taxon, appendix="II" if label else None,
        specimen="live" if label else None,
        difficulty="plain" if label else "easy_negative", rationale="test",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("label", "title", "taxon", "kept"),
    [
        (1, "Rhino horn cup, old", "Rhinocerotidae", True),  # names the offer's own taxon
        (1, "Old cup, heavy", "Rhinocerotidae", False),  # says nothing by itself
        (1, "Rhino horn cup", "Psittacus erithacus", False),  # names another group
        (1, "Faux rhino horn cup", "Rhinocerotidae", False),  # a look-alike cue
        (0, "Three-seater sofa, grey", None, True),  # names no taxon
        (0, "Ivory bangle", None, False),  # a negative whose title alone reads as an offer
    ],
)
def test_a_title_becomes_an_ad_of_its_own_only_when_it_keeps_the_label(
    label: int, title: str, taxon: str | None, kept: bool
) -> None:
    """Title views keep an ad's label; ads that are a title already are not repeated."""
    record = _labelled(1, label, title, taxon).model_copy(update={"description": "see photos"})
    guard = Guard(taxonomy=load_taxonomy())
    views = title_views([record, _labelled(2, label, title, taxon)], guard)
    assert [(v.id, v.title, v.description, v.label) for v in views] == (
        [("t-1-title", title, "", label)] if kept else []
    )


def test_generated_negatives_borrow_the_words_offers_share_but_not_their_code_words() -> None:
    """Words that offers of several groups share ("collection only") also appear in generated
    ordinary ads, terse ones included; a word only one group's offers use does not."""
    taxonomy = load_taxonomy()
    offers = [
        _labelled(1, 1, "bekko comb collection only", "Eretmochelys imbricata"),
        _labelled(2, 1, "grey parrot collection only", "Psittacus erithacus"),
        _labelled(3, 1, "carved tusk collection only", "Elephantidae"),
    ]
    ordinary = [_labelled(10 + i, 0, f"sofa table lamp chair number{i}") for i in range(20)]
    rows = generate(taxonomy, seed=3, negatives=ordinary, positives=offers)
    words = {
        word
        for row in rows
        if row.rationale in ("generated: random ordinary words", TERSE)
        for word in f"{row.title} {row.description}".split()
    }
    assert {"collection", "only", "sofa"} <= words
    assert "bekko" not in words
    assert "comb" not in words
    terse = [r for r in rows if r.rationale == TERSE]
    assert terse
    assert all(r.label == 0 for r in terse)
    assert max(len(f"{r.title} {r.description}".split()) for r in terse) <= 7


def _words(folded: str) -> list[str]:
    """Words, with letters spaced out one by one ("p a n g o l i n") joined back into one:
    a spaced-out name is one word, not eight words of copied text."""
    words: list[str] = []
    letters: list[str] = []
    for token in folded.split(" "):
        if len(token) == 1:
            letters.append(token)
            continue
        if letters:
            words.append("".join(letters))
            letters = []
        words.append(token)
    if letters:
        words.append("".join(letters))
    return words


def _shingles(text: str) -> set[str]:
    """Runs of about eight words in every script.

    Eight-word runs of spaced text; for unspaced scripts, character runs of about the same
    length: 16 CJK characters, 32 Thai characters (Thai words are three to four letters).
    """
    folded = re.sub(r"\s+", " ", text.casefold()).strip()
    words = _words(folded)
    out = {" ".join(words[i : i + 8]) for i in range(len(words) - 7)}
    cjk = re.sub(r"[^\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", "", folded)
    out |= {cjk[i : i + 16] for i in range(len(cjk) - 15)}
    thai = re.sub(r"[^\u0e00-\u0e7f]", "", folded)
    out |= {thai[i : i + 32] for i in range(len(thai) - 31)}
    return out


def test_no_dev_set_text_is_in_the_training_data() -> None:
    """No run of about eight words of the dev set appears in the training data."""
    dev: set[str] = set()
    dev_titles = set()
    for record in read_labelled(DEV_SET):
        dev |= _shingles(record.title) | _shingles(record.description)
        dev_titles.add(record.title.casefold().strip())
    training = list(read_labelled_corpus())
    # Every member's training set as training builds it: generated ads (which borrow corpus
    # words), title views and counterfactual negatives.
    config = TrainingConfig(output=REPO, corpus=REPO / "corpus")
    sets = assemble(config, Guard(taxonomy=load_taxonomy()))
    training += [r for k in range(config.members) for r in sets[f"train{k}" if k else "train"]]
    leaks = []
    for record in training:
        if record.title.casefold().strip() in dev_titles:
            leaks.append((record.id, record.title))
        shared = (_shingles(record.title) | _shingles(record.description)) & dev
        if shared:
            leaks.append((record.id, min(shared)))
    assert not leaks, leaks[:10]


def read_labelled_corpus():
    for path in sorted((REPO / "corpus").glob("*.jsonl")):
        yield from read_labelled(path)


def test_failed_training_leaves_the_model_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that fails halfway leaves no new files beside the old manifest."""
    output = tmp_path / "model"
    output.mkdir()
    (output / "manifest.json").write_text("{}")

    def broken_export(*_: object) -> None:
        raise TrainingError("simulated failure while exporting")

    monkeypatch.setattr("cites_guard.training._export.export", broken_export)
    config = _tiny_config(output, limit=200)
    with pytest.raises(TrainingError):
        train(config)
    assert sorted(p.name for p in output.iterdir()) == ["manifest.json"]


def test_token_dropout_out_of_range_is_refused(tmp_path: Path) -> None:
    """Hiding every token would teach nothing: the run stops before it starts."""
    config = dataclasses.replace(_tiny_config(tmp_path / "model", limit=10), token_dropout=1.0)
    with pytest.raises(TrainingError, match="token_dropout"):
        train(config)
    assert not (tmp_path / "model").exists()


def _offer(index: int, title: str, description: str, difficulty: str = "plain") -> LabelledListing:
    return LabelledListing(
        id=f"o-{index}", lang="en", title=title, description=description, price=None,
        currency=None, category="Antiques", label=1, taxon="Rhinocerotidae", appendix="I",
        specimen="raw part", difficulty=difficulty, rationale="test",
    )  # fmt: skip


def test_an_offer_without_its_specimen_words_becomes_a_soft_negative() -> None:
    """Cutting the whole words that name any specimen leaves the ad's context as a negative;
    an offer that still names its taxon in a form the taxonomy does not list, one whose
    title names nothing, a coded one, or one with too little left gives none."""
    guard = Guard(taxonomy=load_taxonomy())
    offers = [
        _offer(1, "Rhino horns, old", "heavy piece from an estate, 2 kg"),
        _offer(2, "Rhino horn", "and a tiger skin, both from an estate"),
        _offer(3, "Rhino horn, old", "rhinocerotids horn cup, heavy estate piece"),
        _offer(4, "Old cup, heavy", "rhino horn, from an estate"),  # the title names nothing
        _offer(5, "Rhino horn, old", "heavy piece from an estate", "coded"),
        _offer(6, "Rhino horn", "2 kg"),  # too little left
    ]
    cut = counterfactual_negatives(offers, guard)
    assert [(c.id, c.title, c.description) for c in cut] == [
        ("o-1-cut", ", old", "heavy piece from an estate, 2 kg"),  # "horns" cut whole
        ("o-2-cut", "", "and a , both from an estate"),
    ]
    assert (cut[0].label, cut[0].taxon, cut[0].source, cut[0].category) == (
        0, None, COUNTERFACTUAL, ""
    )  # fmt: skip
    assert 0.0 < COUNTERFACTUAL_TARGET < 0.5


def test_each_ensemble_member_trains_on_its_own_generated_ads(tmp_path: Path) -> None:
    """Members share the hand-written ads and differ in the generated ones."""
    config = TrainingConfig(output=tmp_path, corpus=REPO / "corpus", members=2)
    sets = assemble(config, Guard(taxonomy=load_taxonomy()))
    first, second = sets["train"], sets["train1"]
    written = {r.id for r in first if r.source != "generated"}
    assert written == {r.id for r in second if r.source != "generated"}
    generated = [r.title for r in first if r.source == "generated"]
    assert generated != [r.title for r in second if r.source == "generated"]


def test_exported_ensemble_computes_what_torch_computes(tmp_path: Path) -> None:
    """The ONNX graph of a two-member ensemble gives torch's outputs, padding included."""

    torch.manual_seed(3)
    members = [
        NgramClassifier(vocab_size=50, buckets=64, dim=8, hidden=8, groups=3, pad_id=0)
        for _ in range(2)
    ]
    with torch.no_grad():  # tables at the precision the file keeps
        for member in members:
            member.unigram.weight.copy_(member.unigram.weight.half().float())
            member.bigram.weight.copy_(member.bigram.weight.half().float())
    ensemble = Ensemble(members).eval()
    export(ensemble, tmp_path / "model.onnx")
    ids = torch.randint(1, 50, (4, 9))
    ids[1, 5:] = 0  # padding at the end
    ids[2, 3] = 0  # a hidden token inside the ad
    with torch.no_grad():
        expected = [t.numpy() for t in ensemble(ids)]
    got = create_session(tmp_path / "model.onnx").run(list(OUTPUTS), {"input_ids": ids.numpy()})
    for have, want in zip(got, expected, strict=True):
        np.testing.assert_allclose(have, want, atol=1e-5)
    with torch.no_grad():
        single = [t.numpy() for t in members[0](ids)]
    assert not np.allclose(got[0], single[0])  # the mean, not the first member
    one_token = torch.tensor([[7], [0]])  # no bigram at all; an ad of padding only
    with torch.no_grad():
        expected = [t.numpy() for t in ensemble(one_token)]
    got = create_session(tmp_path / "model.onnx").run(
        list(OUTPUTS), {"input_ids": one_token.numpy()}
    )
    for have, want in zip(got, expected, strict=True):  # padding only: -1e4-scale logits
        np.testing.assert_allclose(have, want, rtol=1e-5, atol=1e-5)


def test_read_back_returns_the_exported_weights(tmp_path: Path) -> None:
    """Reading an exported graph back and exporting it again changes no output: what
    ``tools/reexport_model.py`` relies on to re-lay a shipped model without retraining."""
    torch.manual_seed(5)
    members = [
        NgramClassifier(vocab_size=40, buckets=32, dim=4, hidden=6, groups=3, pad_id=1)
        for _ in range(3)
    ]
    with torch.no_grad():
        for member in members:
            member.unigram.weight.copy_(member.unigram.weight.half().float())
            member.bigram.weight.copy_(member.bigram.weight.half().float())
    ensemble = Ensemble(members).eval()
    export(ensemble, tmp_path / "first.onnx")
    again = read_back(tmp_path / "first.onnx")
    assert len(again.members) == 3
    for theirs, ours in zip(again.members, members, strict=True):
        for key, value in ours.state_dict().items():
            torch.testing.assert_close(theirs.state_dict()[key], value)
    export(again, tmp_path / "second.onnx")
    ids = torch.randint(2, 40, (3, 6)).numpy()
    ids[0, 4:] = 1
    first = create_session(tmp_path / "first.onnx").run(list(OUTPUTS), {"input_ids": ids})
    second = create_session(tmp_path / "second.onnx").run(list(OUTPUTS), {"input_ids": ids})
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_token_dropout_never_empties_an_ad() -> None:
    """An ad whose tokens were all hidden would pool to the padding penalty and swamp the
    loss: dropout hides about the share asked for, and always leaves a token."""
    torch.manual_seed(0)
    ids = torch.zeros((2000, 6), dtype=torch.long)
    ids[:1000, 0] = 7  # one-token ads
    ids[1000:, :] = torch.randint(1, 50, (1000, 6))  # six-token ads
    hidden = _drop_tokens(ids, 0.5)
    assert bool(((hidden != 0).sum(1) >= 1).all())
    kept = float((hidden[1000:] != 0).float().mean())
    assert 0.45 < kept < 0.55
