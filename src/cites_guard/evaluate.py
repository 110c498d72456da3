"""Measure a guard on labelled listings, against the keyword lists platforms use today.

:func:`evaluate` runs the guard over a labelled file (the dev-set format) and reports
precision, recall, F1 and PR-AUC overall; recall per difficulty; false-positive rates on hard
and easy negatives; accuracy per language; taxon-group and appendix accuracy on true
positives. :class:`KeywordBaseline` is the comparison: a plain case-insensitive keyword list.
:func:`calibrate_threshold` picks the review threshold that reaches a target precision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cites_guard.assessment import Assessment
from cites_guard.dataset import LabelledListing
from cites_guard.guard import Guard
from cites_guard.taxonomy import Taxonomy

__all__ = [
    "KEYWORDS",
    "EvaluationReport",
    "KeywordBaseline",
    "Prediction",
    "calibrate_threshold",
    "evaluate",
    "expected_calibration_error",
    "pr_curve_html",
    "report_from_predictions",
]

#: A keyword list of the kind marketplaces run today: the obvious words, mostly English,
#: a few translations, matched as plain substrings.
KEYWORDS: tuple[str, ...] = (
    "ivory", "tusk", "rhino horn", "rhino", "pangolin", "tiger bone", "tiger skin", "tiger",
    "leopard skin", "tortoiseshell", "turtle shell", "shark fin", "parrot", "macaw",
    "cockatoo", "african grey", "python", "crocodile", "alligator", "orchid", "rosewood",
    "agarwood", "coral", "caviar", "bear bile", "elephant", "hornbill", "sea turtle",
    "tortoise", "monkey", "slow loris", "otter", "musk", "seahorse", "arowana", "cactus",
    "marfil", "ivoire", "elfenbein", "avorio", "ivoor", "слоновая кость", "бивень",
    "象牙", "犀角", "穿山甲", "虎骨", "玳瑁", "鱼翅", "沉香", "紫檀", "gading", "งาช้าง", "ngà voi",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prediction:
    """One labelled listing and what a detector said about it."""

    record: LabelledListing
    score: float
    flagged: bool
    group: str | None = None
    appendix: str | None = None


class KeywordBaseline:
    """Flag a listing when any keyword occurs in its title, description or category.

    Example:
        >>> KeywordBaseline().flags("Ivory silk wedding dress")
        True
    """

    def __init__(self, keywords: Iterable[str] = KEYWORDS) -> None:
        """Use ``keywords`` (matched case-insensitively as substrings)."""
        self.keywords = tuple(k.casefold() for k in keywords)

    def flags(self, text: str) -> bool:
        """Whether any keyword occurs in ``text``."""
        folded = text.casefold()
        return any(k in folded for k in self.keywords)

    def predict(self, records: Iterable[LabelledListing]) -> list[Prediction]:
        """A prediction per record (score 1.0 when flagged, else 0.0)."""
        out = []
        for record in records:
            flagged = self.flags(record.text)
            out.append(Prediction(record, 1.0 if flagged else 0.0, flagged))
        return out


@dataclass
class EvaluationReport:
    """Every figure of one evaluation run."""

    name: str
    n: int
    threshold: float | None
    precision: float
    recall: float
    f1: float
    pr_auc: float
    recall_by_difficulty: dict[str, float]
    fpr_by_difficulty: dict[str, float]
    accuracy_by_language: dict[str, float]
    group_accuracy: float | None
    appendix_accuracy: float | None
    calibration_error: float = float("nan")
    """Expected calibration error of the risk (10 equal-width bins): how far the stated
    probability is from the observed share of positives, on average."""
    counts: dict[str, int] = field(default_factory=dict)
    curve: list[tuple[float, float, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for ``--json``), without the curve points."""
        data = dict(self.__dict__)
        data.pop("curve")
        return data


def _ratio(num: int, den: int) -> float:
    return round(num / den, 4) if den else float("nan")


def _average_precision(
    predictions: Sequence[Prediction],
) -> tuple[float, list[tuple[float, float, float]]]:
    """Area under the precision-recall curve (average precision) and the curve points."""
    positives = sum(p.record.label for p in predictions)
    if positives == 0:
        return float("nan"), []
    ranked = sorted(predictions, key=lambda p: -p.score)
    tp = fp = 0
    area = 0.0
    curve: list[tuple[float, float, float]] = []
    index = 0
    while index < len(ranked):
        score = ranked[index].score
        while index < len(ranked) and ranked[index].score == score:
            if ranked[index].record.label:
                tp += 1
            else:
                fp += 1
            index += 1
        precision = tp / (tp + fp)
        recall = tp / positives
        previous_recall = curve[-1][1] if curve else 0.0
        area += precision * (recall - previous_recall)
        curve.append((precision, recall, score))
    return round(area, 4), curve


def expected_calibration_error(predictions: Sequence[Prediction], bins: int = 10) -> float:
    """Average gap between predicted risk and observed positive rate, weighted by bin size.

    Example:
        >>> expected_calibration_error([])
        nan
    """
    if not predictions:
        return float("nan")
    totals = [0] * bins
    scores = [0.0] * bins
    positives = [0] * bins
    for p in predictions:
        index = min(int(p.score * bins), bins - 1)
        totals[index] += 1
        scores[index] += p.score
        positives[index] += p.record.label
    gap = sum(abs(scores[i] - positives[i]) for i in range(bins) if totals[i])
    return round(gap / len(predictions), 4)


def report_from_predictions(
    name: str, predictions: Sequence[Prediction], threshold: float | None, taxonomy: Taxonomy
) -> EvaluationReport:
    """Compute every figure from per-record predictions."""
    tp = sum(1 for p in predictions if p.flagged and p.record.label)
    fp = sum(1 for p in predictions if p.flagged and not p.record.label)
    fn = sum(1 for p in predictions if not p.flagged and p.record.label)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if tp else 0.0
    by_difficulty: dict[str, list[Prediction]] = defaultdict(list)
    by_language: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        by_difficulty[p.record.difficulty].append(p)
        by_language[p.record.lang].append(p)
    recall_by = {
        d: _ratio(sum(p.flagged for p in ps), len(ps))
        for d, ps in sorted(by_difficulty.items())
        if d in ("plain", "coded", "obfuscated")
    }
    fpr_by = {
        d: _ratio(sum(p.flagged for p in ps), len(ps))
        for d, ps in sorted(by_difficulty.items())
        if d.endswith("negative")
    }
    accuracy = {
        lang: _ratio(sum(p.flagged == bool(p.record.label) for p in ps), len(ps))
        for lang, ps in sorted(by_language.items())
    }
    true_positives = [p for p in predictions if p.flagged and p.record.label]
    with_group = [p for p in true_positives if p.group is not None or p.appendix is not None]
    group_accuracy = appendix_accuracy = None
    if with_group or true_positives:
        group_accuracy = _ratio(
            sum(p.group == taxonomy.group_of(p.record.taxon or "") for p in true_positives),
            len(true_positives),
        )
        appendix_accuracy = _ratio(
            sum(p.appendix == p.record.appendix for p in true_positives), len(true_positives)
        )
        if not with_group:
            group_accuracy = appendix_accuracy = None
    pr_auc, curve = _average_precision(predictions)
    return EvaluationReport(
        name=name,
        n=len(predictions),
        threshold=threshold,
        precision=precision,
        recall=recall,
        f1=f1,
        pr_auc=pr_auc,
        recall_by_difficulty=recall_by,
        fpr_by_difficulty=fpr_by,
        accuracy_by_language=accuracy,
        group_accuracy=group_accuracy,
        appendix_accuracy=appendix_accuracy,
        calibration_error=expected_calibration_error(predictions),
        counts={"tp": tp, "fp": fp, "fn": fn, "tn": len(predictions) - tp - fp - fn},
        curve=curve,
    )


def _guard_prediction(record: LabelledListing, assessment: Assessment) -> Prediction:
    top = assessment.top_match
    group = top.group if top else None
    if group is None and assessment.group_scores:
        group = max(assessment.group_scores, key=assessment.group_scores.__getitem__)
    return Prediction(
        record,
        assessment.risk,
        assessment.decision != "allow",
        group,
        top.appendix if top else None,
    )


def evaluate(
    guard: Guard,
    records: Sequence[LabelledListing],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[EvaluationReport, list[Prediction]]:
    """Run ``guard`` over labelled records and compute the report.

    A record counts as flagged when the decision is ``review`` or ``block``.
    """
    predictions: list[Prediction] = []
    listings = [r.to_listing() for r in records]
    for index, (record, assessment) in enumerate(
        zip(records, guard.assess_many(listings), strict=True), start=1
    ):
        predictions.append(_guard_prediction(record, assessment))
        if progress is not None:
            progress(index)
    report = report_from_predictions(
        f"cites-guard ({guard.model_version})",
        predictions,
        guard.settings.policy.review_threshold,
        guard.taxonomy,
    )
    return report, predictions


def calibrate_threshold(
    predictions: Sequence[Prediction], precision: float
) -> tuple[float, float, float]:
    """The lowest review threshold whose precision reaches ``precision``.

    Returns:
        ``(threshold, precision, recall)`` at that threshold. When no threshold reaches the
        target, the one with the best precision is returned.
    """
    positives = sum(p.record.label for p in predictions)
    ranked = sorted(predictions, key=lambda p: -p.score)
    best: tuple[float, float, float] | None = None
    fallback = (1.0, 0.0, 0.0)
    tp = fp = 0
    for index, p in enumerate(ranked):
        tp += p.record.label
        fp += 1 - p.record.label
        if index + 1 < len(ranked) and ranked[index + 1].score == p.score:
            continue
        achieved = tp / (tp + fp)
        recall = tp / positives if positives else 0.0
        if achieved >= precision:
            best = (p.score, achieved, recall)
        if achieved > fallback[1]:
            fallback = (p.score, achieved, recall)
    chosen = best or fallback
    return round(chosen[0], 4), round(chosen[1], 4), round(chosen[2], 4)


def pr_curve_html(reports: Sequence[EvaluationReport]) -> str:
    """A self-contained HTML page with the precision-recall curves as inline SVG."""
    width, height, pad = 520, 400, 50
    colours = ("#1b7837", "#b2182b", "#2166ac", "#762a83")
    paths = []
    legend = []
    for i, report in enumerate(reports):
        colour = colours[i % len(colours)]
        points = [(0.0, report.curve[0][0])] if report.curve else []
        points += [(r, p) for p, r, _ in report.curve]
        coords = " ".join(
            f"{pad + r * (width - 2 * pad):.1f},{height - pad - p * (height - 2 * pad):.1f}"
            for r, p in points
        )
        paths.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coords}"/>'
        )
        legend.append(
            f'<text x="{pad + 10}" y="{pad + 18 * (i + 1)}" fill="{colour}">'
            f"{report.name}: AP {report.pr_auc}, F1 {report.f1}</text>"
        )
    axes = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" '
        f'y2="{height - pad}" stroke="#333"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#333"/>'
        f'<text x="{width / 2}" y="{height - 12}" text-anchor="middle">recall</text>'
        f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
        f'text-anchor="middle">precision</text>'
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>cites-guard PR curve</title>"
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"font-family='sans-serif' font-size='12'>{axes}{''.join(paths)}{''.join(legend)}</svg>"
    )
