"""Rebuild the shipped model from scratch: data, tokenizer, network, calibration, export.

One call (``cites-guard train``) with a fixed seed gives the same model on 2 CPU cores in
under half an hour. Data: the hand-written corpus (``corpus/*.jsonl``, split by a stable
hash of each id into train / calibration / test), the taxonomy-driven generator, each
corpus offer with its specimen words cut out (a soft negative), and any labelled files the
user adds (``--data``, e.g. a marketplace's moderation history). Three networks, each on its
own draw of generated ads, are averaged in one graph. Languages or taxon groups can be held
out entirely to measure generalisation to what the model never saw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cites_guard.dataset import LabelledListing, read_labelled
from cites_guard.detectors import Hit, _spaced
from cites_guard.errors import InputError, TrainingError
from cites_guard.fusion import Fusion, fusion_features
from cites_guard.guard import Guard
from cites_guard.listing import Listing
from cites_guard.model import Calibration, file_sha256, model_text
from cites_guard.normalize import normalize, normalize_term
from cites_guard.taxonomy import GROUPS, Taxonomy, load_taxonomy

__all__ = [
    "TrainingConfig",
    "TrainingResult",
    "counterfactual_negatives",
    "split_of",
    "title_views",
    "train",
]

logger = logging.getLogger("cites_guard.training")

_SPLITS = (("train", 80), ("calibration", 10), ("test", 10))


def split_of(record_id: str) -> str:
    """The split a hand-written record belongs to, from a stable hash of its id.

    Example:
        >>> split_of("c-en-0001") in ("train", "calibration", "test")
        True
    """
    bucket = int(hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    for name, share in _SPLITS:
        if bucket < share:
            return name
        bucket -= share
    return "train"


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides the model. The defaults rebuild the shipped one."""

    output: Path
    corpus: Path | None = None
    data: tuple[Path, ...] = ()
    seed: int = 20261128
    epochs: int = 12
    batch_size: int = 128
    learning_rate: float = 3e-3
    vocab_size: int = 16000
    buckets: int = 32768
    dim: int = 64
    hidden: int = 128
    members: int = field(
        default=3,
        metadata={"help": "networks trained on differently seeded data and averaged"},
    )
    max_tokens: int = 192
    corpus_weight: int = 3
    title_views: bool = field(
        default=True, metadata={"help": "add each corpus ad's title as an ad of its own"}
    )
    counterfactuals: bool = field(
        default=True,
        metadata={"help": "add each corpus offer, its taxon words cut out, as a negative"},
    )
    token_dropout: float = 0.15
    threads: int = 2
    holdout_languages: tuple[str, ...] = ()
    holdout_groups: tuple[str, ...] = ()
    limit: int | None = field(default=None, metadata={"help": "cap examples (smoke tests)"})
    version: str = "1.0.0"


@dataclass
class TrainingResult:
    """What training produced and measured."""

    output: Path
    examples: dict[str, int]
    metrics: dict[str, Any]
    seconds: float


def _require_torch() -> None:
    try:
        import onnx  # noqa: F401, PLC0415
        import torch  # noqa: F401, PLC0415
    except ImportError as exc:
        raise TrainingError(
            "training needs the 'train' extra: pip install 'cites-guard[train]' "
            "(torch 2.13.0 CPU and onnx)"
        ) from exc


def _text(record: LabelledListing) -> str:
    listing = record.to_listing()
    return model_text({name: normalize(text) for name, text in listing.text_fields()})


def _read_corpus(config: TrainingConfig) -> list[LabelledListing]:
    files: list[Path] = []
    if config.corpus is not None:
        if not config.corpus.is_dir():
            raise TrainingError(f"{config.corpus}: corpus folder not found")
        files.extend(sorted(config.corpus.glob("*.jsonl")))
    files.extend(config.data)
    rows: list[LabelledListing] = []
    for path in files:
        errors: list[InputError] = []
        rows.extend(read_labelled(path, errors))
        for error in errors:
            logger.warning("%s: skipped: %s", path, error)
    return rows


def _held_out(record: LabelledListing, config: TrainingConfig, taxonomy: Taxonomy) -> bool:
    if record.lang in config.holdout_languages:
        return True
    if record.label == 1 and record.taxon is not None and config.holdout_groups:
        return taxonomy.group_of(record.taxon) in config.holdout_groups
    return False


def assemble(
    config: TrainingConfig, evidence: Guard, *, members: int | None = None
) -> dict[str, list[LabelledListing]]:
    """Build the train / calibration / test / holdout sets.

    ``evidence`` is a guard without a model (the evidence stage inference runs), built once
    per training run: title views read it, and so does the fusion fit later. With
    ``members`` (``config.members`` when omitted) above one, the result also holds
    ``train1``, ``train2``...: the training set of each further ensemble member, with its
    own draw of generated ads and its own order (the hand-written part is the same).
    """
    from cites_guard.training.generator import generate  # noqa: PLC0415

    taxonomy = evidence.taxonomy
    corpus = _read_corpus(config)
    sets: dict[str, list[LabelledListing]] = {
        "train": [],
        "calibration": [],
        "test": [],
        "holdout": [],
    }
    for record in corpus:
        if _held_out(record, config, taxonomy):
            sets["holdout"].append(record)
        else:
            sets[split_of(record.id)].append(record)
    everyday = [r for r in sets["train"] if r.difficulty == "easy_negative"]
    negatives = [r for r in sets["train"] if r.label == 0]
    positives = [r for r in sets["train"] if r.label == 1]
    titles = title_views(sets["train"], evidence) if config.title_views else []
    cut = counterfactual_negatives(sets["train"], evidence) if config.counterfactuals else []
    written = sets["train"] * config.corpus_weight + titles + cut
    for member in range(config.members if members is None else members):
        seed = member_seed(config, member)
        generated = [
            r
            for r in generate(
                taxonomy, seed=seed, everyday=everyday, negatives=negatives, positives=positives
            )
            if not _held_out(r, config, taxonomy)
        ]
        rows = written + generated
        random.Random(seed).shuffle(rows)
        sets[f"train{member}" if member else "train"] = rows
    if config.limit is not None:
        sets = {k: v[: config.limit] for k, v in sets.items()}
    return sets


def title_views(records: Sequence[LabelledListing], evidence: Guard) -> list[LabelledListing]:
    """The title of each ad as an ad of its own, where the title alone keeps the ad's label.

    Many marketplace ads are a title and little else, and a short ad is a handful of pooled
    subwords: without such ads in training, one context word ("estate", "grey") can decide
    one. The title of a negative counts only when the evidence stage names no taxon in it (a
    resin bangle titled "Ivory bangle" would teach that ivory is ordinary); the title of an
    offer only when it names a taxon of the offer's own group and no look-alike cue (a title
    such as "Old bangle, heavy" says nothing by itself). ``evidence`` is a guard without a
    model.

    Example:
        >>> from cites_guard.taxonomy import load_taxonomy
        >>> ad = LabelledListing(id="x", lang="en", title="Rhino horn cup",
        ...     description="old, heavy, from an estate", price=None, currency=None,
        ...     category="Antiques", label=1, taxon="Rhinocerotidae", appendix="I",
        ...     specimen="worked item", difficulty="plain", rationale="offers rhino horn")
        >>> guard = Guard(taxonomy=load_taxonomy())
        >>> [(v.id, v.title, v.description) for v in title_views([ad], guard)]
        [('x-title', 'Rhino horn cup', '')]
    """
    taxonomy = evidence.taxonomy
    views = []
    for record in records:
        if not record.description.strip():
            continue  # already an ad of a title
        title = Listing(id=record.id, title=record.title, language=record.lang)
        found = evidence.prepare(title).evidence
        if record.label == 1:
            group = taxonomy.group_of(record.taxon or "")
            keep = not found.lookalikes and any(m.group == group for m in found.matches)
        else:
            keep = not found.matches
        if keep:
            views.append(
                record.model_copy(
                    update={"id": f"{record.id}-title", "description": "", "category": ""}
                )
            )
    return views


def _word_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` widened to the whole word in scripts that separate words.

    The detectors accept a few letters past a term ("tusks" for "tusk", Arabic prefixes):
    cutting only the term would leave "s for sale".
    """
    while start > 0 and text[start - 1].isalpha() and _spaced(text[start - 1]):
        start -= 1
    while end < len(text) and text[end].isalpha() and _spaced(text[end]):
        end += 1
    return start, end


def _cut_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` without ``spans`` (start, end), each widened to its word, spaces tidied."""
    kept, at = [], 0
    for start, end in sorted(_word_edges(text, a, b) for a, b in spans):
        if start >= at:
            kept.append(text[at:start])
            at = end
        else:
            at = max(at, end)
    kept.append(text[at:])
    return " ".join("".join(kept).split())


#: ``source`` of a counterfactual negative.
COUNTERFACTUAL = "counterfactual"
#: Training target of a counterfactual: low, not 0, since the words around a specimen still
#: hint at one ("DNA sexed, closed ring, hand-fed" is how parrots are sold) and some of
#: them are code the taxonomy does not know.
COUNTERFACTUAL_TARGET = 0.2

_CUT_MIN_WORDS = 3  # fewer words left say nothing about the ad's context

_SPECIMEN_KINDS = frozenset({"species", "product", "code_word"})


def _specimen_hits(record: LabelledListing, evidence: Guard) -> list[Hit]:
    """Every hit of a taxon name, product or code word in the record, weak ones included."""
    hits, _ = evidence.detectors.detect(record.to_listing())
    return [hit for hit in hits if hit.entry.kind in _SPECIMEN_KINDS]


_STEM = 5  # letters two words must share to count as one word (plurals, compounds)


def _taxon_words(taxon: str, taxonomy: Taxonomy) -> tuple[set[str], set[str]]:
    """Stems of the words of the taxon's terms (and its ancestors'), and their unspaced terms.

    A cut ad may still name its specimen in a form the taxonomy does not list ("Tortues",
    "Belugakaviar"); these catch most such forms.
    """
    found = taxonomy.get(taxon)
    if found is None:
        return set(), set()
    stems: set[str] = set()
    unspaced: set[str] = set()
    for name in taxonomy.lineage(found):
        entry = taxonomy.get(name)
        if entry is None:
            continue
        for term in [*entry.all_terms(), entry.name]:
            form = normalize_term(term)
            if form and not all(_spaced(ch) for ch in form if ch.isalpha()):
                unspaced.add(form.replace(" ", ""))
            stems.update(word[:_STEM] for word in form.split() if len(word) >= _STEM)
    return stems, unspaced


def _still_names(text: str, stems: set[str], unspaced: set[str]) -> bool:
    """Whether ``text`` holds a word of the taxon's terms (by stem) or an unspaced term."""
    folded = normalize(text).text
    if any(len(word) >= _STEM and word[:_STEM] in stems for word in folded.split()):
        return True
    squeezed = folded.replace(" ", "")
    return any(term in squeezed for term in unspaced)


def counterfactual_negatives(
    records: Sequence[LabelledListing], evidence: Guard
) -> list[LabelledListing]:
    """Each offer with the words that name its specimen cut out, as a negative.

    A bag-of-words model learns shortcuts from the words around a specimen: in the corpus
    "tas" (a bag) appears mostly in python-skin bag offers, so an ordinary backpack ad
    scored as a snake product. The same ad with "kulit ular python" cut out is an ordinary
    bag ad, and teaches that the specimen words, not the bag, make the offer. Only plain
    offers take part (a coded or disguised offer cut this way may still be an offer, in
    words the taxonomy does not know). The title must name the specimen, each cut takes the
    whole word, and the cut ad (category dropped) must keep at least three words, hold no
    taxon name, product or code word, weak ones included, and no word sharing five letters
    with a term of the offer's taxon ("Tortues", "Belugakaviar"). Training aims them at
    :data:`COUNTERFACTUAL_TARGET`. ``evidence`` is a guard without a model.

    Example:
        >>> from cites_guard.taxonomy import load_taxonomy
        >>> ad = LabelledListing(id="x", lang="en", title="Old rhino horn, 2 kg",
        ...     description="heavy, from an estate", price=None, currency=None,
        ...     category="Antiques", label=1, taxon="Rhinocerotidae", appendix="I",
        ...     specimen="raw part", difficulty="plain", rationale="offers rhino horn")
        >>> guard = Guard(taxonomy=load_taxonomy())
        >>> [(v.id, v.title, v.label) for v in counterfactual_negatives([ad], guard)]
        [('x-cut', 'Old , 2 kg', 0)]
    """
    negatives = []
    for record in records:
        if record.label != 1 or record.difficulty != "plain":
            continue
        hits = _specimen_hits(record, evidence)
        if not any(hit.field == "title" for hit in hits):
            continue
        if evidence.prepare(record.to_listing()).evidence.lookalikes:
            continue
        spans: dict[str, list[tuple[int, int]]] = {"title": [], "description": []}
        for hit in hits:
            if hit.field in spans:
                spans[hit.field].append((hit.start, hit.end))
        title = _cut_spans(record.title, spans["title"])
        description = _cut_spans(record.description, spans["description"])
        text = f"{title} {description}"
        if sum(any(ch.isalnum() for ch in word) for word in text.split()) < _CUT_MIN_WORDS:
            continue
        if _still_names(text, *_taxon_words(record.taxon or "", evidence.taxonomy)):
            continue
        cut = record.model_copy(
            update={
                "id": f"{record.id}-cut", "title": title, "description": description,
                "category": "",
                "label": 0, "taxon": None, "appendix": None, "specimen": None,
                "difficulty": "hard_negative", "source": COUNTERFACTUAL,
                "rationale": "an offer with the words naming its specimen cut out",
            }
        )  # fmt: skip
        if not _specimen_hits(cut, evidence):
            negatives.append(cut)
    return negatives


_PIECES_BEYOND_ALPHABET = 256


def _train_tokenizer(texts: Sequence[str], config: TrainingConfig, path: Path) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: PLC0415

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    # The Unigram trainer fails when the vocabulary cannot hold every character seen: a
    # small vocabulary over many scripts (CJK alone has thousands) grows to fit, with room
    # for pieces longer than one character.
    alphabet = len({char for text in texts for char in text})
    vocab_size = max(config.vocab_size, alphabet + _PIECES_BEYOND_ALPHABET)
    if vocab_size != config.vocab_size:
        logger.warning(
            "vocabulary raised from %d to %d to hold the %d characters of the training text",
            config.vocab_size,
            vocab_size,
            alphabet,
        )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<unk>"],
        unk_token="<unk>",  # noqa: S106 - a vocabulary token, not a secret
        max_piece_length=12,
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.enable_truncation(max_length=config.max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="<pad>")  # noqa: S106  # to the batch's longest item
    tokenizer.save(str(path))
    return tokenizer


def _loss(outputs: Any, labels: Any, groups: Any, appendix: Any) -> Any:
    """Offer or not; plus, at half weight, the group and the Appendix I flag where known."""
    import torch  # noqa: PLC0415

    logit, group_logits, appendix_logit = outputs
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, labels)
    if (groups >= 0).any():
        loss = loss + 0.5 * torch.nn.functional.cross_entropy(
            group_logits, groups, ignore_index=-100
        )
    known = appendix >= 0  # offers whose appendix is known
    if known.any():
        loss = loss + 0.5 * torch.nn.functional.binary_cross_entropy_with_logits(
            appendix_logit[known], appendix[known]
        )
    return loss


def _target(record: LabelledListing) -> float:
    """What the offer head is trained towards: the label, or a counterfactual's target."""
    return COUNTERFACTUAL_TARGET if record.source == COUNTERFACTUAL else float(record.label)


def _appendix_target(record: LabelledListing) -> float:
    """1 for an offer of an Appendix I taxon, 0 for another appendix, -1 for no offer."""
    if record.label != 1 or record.appendix is None:
        return -1.0
    return 1.0 if record.appendix == "I" else 0.0


def _group_index(record: LabelledListing, taxonomy: Taxonomy) -> int:
    if record.label != 1 or record.taxon is None:
        return -100
    group = taxonomy.group_of(record.taxon)
    return GROUPS.index(group) if group in GROUPS else -100


def member_seed(config: TrainingConfig, member: int) -> int:
    """The seed of ensemble member ``member`` (member 0 has the run's own seed)."""
    return config.seed + 1000 * member


def train(config: TrainingConfig) -> TrainingResult:
    """Train, calibrate, export and describe a model in ``config.output``.

    Raises:
        TrainingError: The ``train`` extra is missing or the data is unusable.
    """
    _require_torch()
    import torch  # noqa: PLC0415

    if not 0.0 <= config.token_dropout < 1.0:
        raise TrainingError(
            f"token_dropout must be at least 0 and below 1, got {config.token_dropout}"
        )
    started = time.monotonic()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(mode=True)

    if config.members < 1:
        raise TrainingError(f"members must be at least 1, got {config.members}")
    evidence = Guard(taxonomy=load_taxonomy())  # the evidence stage inference runs, no model
    sets = assemble(config, evidence)
    if not sets["train"] or {r.label for r in sets["train"]} != {0, 1}:
        raise TrainingError("the training set needs positives and negatives")
    member_train = [sets.pop(f"train{k}" if k else "train") for k in range(config.members)]
    sets["train"] = member_train[0]
    config.output.mkdir(parents=True, exist_ok=True)
    # Build beside the output and move in at the end: an interrupted or failed run never
    # leaves new weights next to an old manifest (which would fail the checksum check).
    work = Path(tempfile.mkdtemp(prefix=".train-", dir=config.output))
    try:
        result = _train_into(work, config, sets, member_train, evidence, started)
        for name in ("tokenizer.json", "model.onnx", "manifest.json"):
            (work / name).replace(config.output / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return TrainingResult(config.output, result.examples, result.metrics, result.seconds)


def _train_into(
    output: Path,
    config: TrainingConfig,
    sets: dict[str, list[LabelledListing]],
    member_train: Sequence[list[LabelledListing]],
    evidence_guard: Guard,
    started: float,
) -> TrainingResult:
    """The training run proper, writing its three files into ``output``.

    ``member_train`` holds each ensemble member's training rows (``sets["train"]`` first).
    """
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    from cites_guard.training._calibrate import fit_temperature  # noqa: PLC0415
    from cites_guard.training._export import OPSET, OUTPUTS, export  # noqa: PLC0415

    taxonomy = evidence_guard.taxonomy
    texts = {name: [_text(r) for r in rows] for name, rows in sets.items()}
    tokenizer = _train_tokenizer(texts["train"], config, output / "tokenizer.json")

    def encode(batch_texts: Sequence[str]) -> torch.Tensor:
        ids = [e.ids for e in tokenizer.encode_batch(list(batch_texts))]
        return torch.tensor(ids, dtype=torch.long)

    from cites_guard.training._network import Ensemble  # noqa: PLC0415

    members = []
    for member, rows in enumerate(member_train):
        member_texts = texts["train"] if member == 0 else [_text(r) for r in rows]
        members.append(
            _fit_network(config, member, rows, member_texts, encode, tokenizer, taxonomy)
        )
    network = Ensemble(members).eval()

    def logits_of(rows: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three outputs of the ensemble on ``rows``: logit, group logits, Appendix I."""
        outs: list[list[np.ndarray]] = [[], [], []]
        with torch.no_grad():
            for start in range(0, len(rows), 256):
                for out, value in zip(
                    outs, network(encode(rows[start : start + 256])), strict=True
                ):
                    out.append(value.numpy())
        if not rows:
            empty = np.zeros(0, dtype=np.float32)
            return empty, np.zeros((0, len(GROUPS)), dtype=np.float32), empty
        logit, group_logits, appendix_logit = (np.concatenate(out) for out in outs)
        return logit, group_logits, appendix_logit

    calibration_rows = sets["calibration"] or sets["train"][:500]
    calibration_texts = texts["calibration"] if sets["calibration"] else texts["train"][:500]
    cal_outputs = logits_of(calibration_texts)
    cal_logits = cal_outputs[0]
    temperature, bias = fit_temperature(
        cal_logits, np.array([r.label for r in calibration_rows], dtype=np.float32)
    )
    calibration = Calibration(temperature=temperature, bias=bias)
    fusion = _fit_fusion(sets["calibration"], cal_logits, calibration, evidence_guard)
    export(network, output / "model.onnx")
    parity = _check_parity(
        output / "model.onnx", tokenizer, calibration_texts[:64], [o[:64] for o in cal_outputs]
    )

    metrics: dict[str, Any] = {"onnx_parity_max_abs_diff": parity}
    for name in ("test", "holdout"):
        if sets[name]:
            logits, group_logits, appendix_logits = logits_of(texts[name])
            metrics[name] = _metrics(sets[name], logits, group_logits, temperature, bias, taxonomy)
            metrics[name]["appendix_one_accuracy"] = _appendix_accuracy(sets[name], appendix_logits)
            if fusion is not None:
                metrics[name]["fused"] = _fused_metrics(
                    sets[name], logits, calibration, evidence_guard, fusion
                )
    files = {name: file_sha256(output / name) for name in ("model.onnx", "tokenizer.json")}
    counts = {k: len(v) for k, v in sets.items()}
    member_counts = [len(rows) for rows in member_train]
    sources = Counter(r.source or "user" for r in sets["train"])
    manifest = {
        "name": "cites-guard-ngram",
        "version": config.version,
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "opset": OPSET,
        "files": files,
        "groups": list(GROUPS),
        "inputs": ["input_ids"],
        "outputs": list(OUTPUTS),
        "calibration": {"temperature": temperature, "bias": bias},
        **({"fusion": fusion.model_dump(mode="json")} if fusion is not None else {}),
        "threshold": 0.5,
        "licence": "Apache-2.0",
        "training": {
            "seed": config.seed,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "vocab_size": tokenizer.get_vocab_size(),
            "buckets": config.buckets,
            "dim": config.dim,
            "hidden": config.hidden,
            "members": config.members,
            "max_tokens": config.max_tokens,
            "corpus_weight": config.corpus_weight,
            "token_dropout": config.token_dropout,
            "title_views": config.title_views,
            "counterfactuals": config.counterfactuals,
            "examples": counts,
            "examples_per_member": member_counts,
            "train_sources": dict(sources),
            "holdout_languages": list(config.holdout_languages),
            "holdout_groups": list(config.holdout_groups),
            "taxonomy": taxonomy.version,
            "torch": torch.__version__,
        },
        "metrics": metrics,
    }
    (output / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return TrainingResult(output, counts, metrics, time.monotonic() - started)


def _drop_tokens(ids: Any, share: float) -> Any:
    """Hide about ``share`` of each ad's tokens (as padding), never all of them.

    No single word may decide the score alone. An ad left with no token at all would pool
    to the padding penalty (-1e4), and its loss, thousands of times any other, threw
    training off course for whole epochs: such an ad keeps its tokens.
    """
    import torch  # noqa: PLC0415

    dropped = torch.rand(ids.shape) < share
    emptied = ((ids != 0) & ~dropped).sum(1) == 0
    dropped[emptied] = False
    return ids.masked_fill(dropped, 0)


def _fit_network(
    config: TrainingConfig,
    member: int,
    rows: Sequence[LabelledListing],
    texts: Sequence[str],
    encode: Any,
    tokenizer: Any,
    taxonomy: Taxonomy,
) -> Any:
    """Train one ensemble member on ``rows`` and return it in eval mode."""
    import torch  # noqa: PLC0415

    from cites_guard.training._network import NgramClassifier  # noqa: PLC0415

    seed = member_seed(config, member)
    torch.manual_seed(seed)
    network = NgramClassifier(
        vocab_size=tokenizer.get_vocab_size(),
        buckets=config.buckets,
        dim=config.dim,
        hidden=config.hidden,
        groups=len(GROUPS),
        pad_id=0,
    )
    optimiser = torch.optim.AdamW(network.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    labels = torch.tensor([_target(r) for r in rows], dtype=torch.float32)
    groups = torch.tensor([_group_index(r, taxonomy) for r in rows], dtype=torch.long)
    appendix_one = torch.tensor([_appendix_target(r) for r in rows], dtype=torch.float32)
    order = list(range(len(rows)))
    steps_per_epoch = max(1, (len(order) + config.batch_size - 1) // config.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.learning_rate, total_steps=steps_per_epoch * config.epochs
    )
    shuffler = random.Random(seed)
    for epoch in range(config.epochs):
        network.train()
        shuffler.shuffle(order)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            ids = encode([texts[i] for i in index])
            if config.token_dropout:
                ids = _drop_tokens(ids, config.token_dropout)
            loss = _loss(network(ids), labels[index], groups[index], appendix_one[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            scheduler.step()
            total += float(loss.detach()) * len(index)
        logger.info(
            "member %d epoch %d/%d loss %.4f",
            member + 1, epoch + 1, config.epochs, total / len(order),
        )  # fmt: skip
    network.eval()
    with torch.no_grad():  # store tables at the precision the ONNX file keeps
        network.unigram.weight.copy_(network.unigram.weight.half().float())
        network.bigram.weight.copy_(network.bigram.weight.half().float())
    return network


def _fusion_rows(
    rows: Sequence[LabelledListing], logits: Any, calibration: Calibration, guard: Guard
) -> list[tuple[float, ...]]:
    """:func:`fusion_features` of each row.

    The model's risk comes from ``logits``; the evidence from ``guard``, an evidence-only
    guard that runs the same evidence stage as inference.
    """
    return [
        fusion_features(
            calibration.probability(float(logit)), guard.prepare(record.to_listing()).evidence
        )
        for record, logit in zip(rows, logits, strict=True)
    ]


def _fit_fusion(
    rows: Sequence[LabelledListing], logits: Any, calibration: Calibration, guard: Guard
) -> Fusion | None:
    """Fit the fusion on the calibration split; none without a split holding both labels."""
    labels = [r.label for r in rows]
    if len(set(labels)) < 2:
        logger.warning("no calibration split with both labels: the model ships without fusion")
        return None
    fusion = Fusion.fit(_fusion_rows(rows, logits, calibration, guard), labels)
    logger.info("fusion weights %s bias %.3f", fusion.weights, fusion.bias)
    return fusion


def _fused_metrics(
    rows: Sequence[LabelledListing],
    logits: Any,
    calibration: Calibration,
    guard: Guard,
    fusion: Fusion,
) -> dict[str, float]:
    """Precision, recall and F1 of the fused risk at 0.5."""
    flagged = [
        fusion.probability(features) >= 0.5
        for features in _fusion_rows(rows, logits, calibration, guard)
    ]
    tp = sum(1 for f, r in zip(flagged, rows, strict=True) if f and r.label == 1)
    precision = tp / max(sum(flagged), 1)
    recall = tp / max(sum(1 for r in rows if r.label == 1), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def _appendix_accuracy(rows: Sequence[LabelledListing], appendix_logits: Any) -> float:
    """How often the Appendix I head is right (at 0.5) on the offers whose appendix is known."""
    judged = [
        (float(value) >= 0.0) == (target == 1.0)
        for record, value in zip(rows, appendix_logits, strict=True)
        if (target := _appendix_target(record)) >= 0.0
    ]
    return round(sum(judged) / max(len(judged), 1), 4)


def _check_parity(
    path: Path, tokenizer: Any, texts: Sequence[str], expected: Sequence[Any]
) -> float:
    """Largest difference between the ONNX outputs and the torch outputs on ``texts``."""
    import numpy as np  # noqa: PLC0415

    from cites_guard.model import create_session  # noqa: PLC0415
    from cites_guard.training._export import OUTPUTS  # noqa: PLC0415

    if not texts:
        return 0.0
    session = create_session(path)
    ids = np.array([e.ids for e in tokenizer.encode_batch(list(texts))], dtype=np.int64)
    outputs = session.run(list(OUTPUTS), {"input_ids": ids})
    diff = max(
        float(np.max(np.abs(np.asarray(got) - want)))
        for got, want in zip(outputs, expected, strict=True)
    )
    if diff > 1e-3:
        raise TrainingError(f"exported ONNX model disagrees with torch (max diff {diff:.5f})")
    return diff


def _metrics(
    rows: Sequence[LabelledListing],
    logits: Any,
    group_logits: Any,
    temperature: float,
    bias: float,
    taxonomy: Taxonomy,
) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415

    probs = 1.0 / (1.0 + np.exp(-(logits / temperature + bias)))
    labels = np.array([r.label for r in rows])
    predicted = probs >= 0.5
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    group_hits = [
        GROUPS[int(np.argmax(g))] == taxonomy.group_of(r.taxon or "")
        for r, g, p in zip(rows, group_logits, predicted, strict=True)
        if r.label == 1 and p
    ]
    return {
        "n": len(rows),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-9), 4),
        "group_accuracy": round(sum(group_hits) / max(len(group_hits), 1), 4),
    }
