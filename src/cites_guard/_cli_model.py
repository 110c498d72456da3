"""Sub-commands about the model: ``eval``, ``calibrate`` and ``train``."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from cites_guard.config import ModelSettings, Settings
from cites_guard.dataset import read_labelled
from cites_guard.errors import ConfigError, InputError
from cites_guard.evaluate import (
    EvaluationReport,
    KeywordBaseline,
    calibrate_threshold,
    evaluate,
    pr_curve_html,
    report_from_predictions,
)
from cites_guard.guard import Guard

__all__ = ["register"]

Commands = argparse._SubParsersAction  # noqa: SLF001 - argparse exposes no public name


def _guard(args: argparse.Namespace) -> Guard:
    settings = Settings.from_file(args.config) if args.config else Settings()
    if args.model:
        model = settings.model.model_copy(update={"path": Path(args.model), "enabled": True})
        settings = settings.model_copy(update={"model": model})
    if args.no_model:
        settings = settings.model_copy(update={"model": ModelSettings(enabled=False)})
    if getattr(args, "threshold", None) is not None:
        settings = settings.with_threshold(args.threshold)
    return Guard.default(settings)


def _records(path: str) -> list[Any]:
    if not Path(path).is_file():
        raise ConfigError(f"{path}: no such labelled file")
    errors: list[InputError] = []
    records = list(read_labelled(path, errors))
    for error in errors:
        sys.stderr.write(f"cites-guard: {path}: {error}\n")
    if not records:
        raise ConfigError(f"{path}: no valid labelled listings")
    return records


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "  n/a"
    return f"{value:5.3f}"


def _table(reports: list[EvaluationReport]) -> str:
    names = [r.name for r in reports]
    rows: list[tuple[str, list[str]]] = [
        ("listings", [str(r.n) for r in reports]),
        ("threshold", [_fmt(r.threshold) if r.threshold is not None else "  n/a" for r in reports]),
        ("precision", [_fmt(r.precision) for r in reports]),
        ("recall", [_fmt(r.recall) for r in reports]),
        ("F1", [_fmt(r.f1) for r in reports]),
        ("PR-AUC", [_fmt(r.pr_auc) for r in reports]),
        ("calibration error (ECE)", [_fmt(r.calibration_error) for r in reports]),
    ]
    rows.extend(
        (f"recall {key}", [_fmt(r.recall_by_difficulty.get(key)) for r in reports])
        for key in ("plain", "coded", "obfuscated")
    )
    rows.extend(
        (f"FPR {key}", [_fmt(r.fpr_by_difficulty.get(key)) for r in reports])
        for key in ("hard_negative", "easy_negative")
    )
    rows.append(("group accuracy (TP)", [_fmt(r.group_accuracy) for r in reports]))
    rows.append(("appendix accuracy (TP)", [_fmt(r.appendix_accuracy) for r in reports]))
    languages = sorted({lang for r in reports for lang in r.accuracy_by_language})
    rows.extend(
        (f"accuracy [{lang}]", [_fmt(r.accuracy_by_language.get(lang)) for r in reports])
        for lang in languages
    )
    width = max(len(label) for label, _ in rows) + 2
    col = max(12, *(len(n) for n in names)) + 2
    lines = ["".ljust(width) + "".join(n.rjust(col) for n in names)]
    lines.extend(
        label.ljust(width) + "".join(v.rjust(col) for v in values) for label, values in rows
    )
    return "\n".join(lines) + "\n"


def _cmd_eval(args: argparse.Namespace) -> int:
    records = _records(args.input)
    guard = _guard(args)
    report, _ = evaluate(guard, records)
    reports = [report]
    if args.baseline == "keywords":
        baseline = KeywordBaseline()
        reports.append(
            report_from_predictions(
                "keyword baseline", baseline.predict(records), None, guard.taxonomy
            )
        )
    if args.json:
        payload: dict[str, Any] = {"guard": report.as_dict()}
        if len(reports) > 1:
            payload["baseline"] = reports[1].as_dict()
            payload["f1_gain_over_baseline"] = round(report.f1 - reports[1].f1, 4)
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_table(reports))
        if len(reports) > 1:
            sys.stdout.write(f"F1 gain over keyword baseline: {report.f1 - reports[1].f1:+.3f}\n")
    if args.plot:
        Path(args.plot).write_text(pr_curve_html(reports), encoding="utf-8")
        sys.stderr.write(f"cites-guard: PR curve written to {args.plot}\n")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    records = _records(args.input)
    guard = _guard(args)
    _, predictions = evaluate(guard, records)
    threshold, precision, recall = calibrate_threshold(predictions, args.precision)
    policy = guard.settings.policy.model_dump(mode="json")
    policy["review_threshold"] = threshold
    policy["block_threshold"] = max(policy["block_threshold"], threshold)
    policy["block_threshold_by_appendix"] = {
        k: max(v, threshold) for k, v in policy["block_threshold_by_appendix"].items()
    }
    output = Path(args.output)
    if output.suffix == ".toml":
        by_appendix = ", ".join(
            f"{k} = {v}" for k, v in policy["block_threshold_by_appendix"].items()
        )
        text = (
            f"# written by cites-guard calibrate: precision {precision} recall {recall} "
            f"on {args.input}\n[policy]\nreview_threshold = {threshold}\n"
            f"block_threshold = {policy['block_threshold']}\n"
            f"block_threshold_by_appendix = {{ {by_appendix} }}\n"
        )
    else:
        text = json.dumps({"policy": policy}, indent=2) + "\n"
    output.write_text(text, encoding="utf-8")
    sys.stdout.write(
        f"review threshold {threshold} reaches precision {precision} at recall {recall} "
        f"on {len(records)} listings; settings written to {output}\n"
    )
    return 0 if precision >= args.precision else 1


def _cmd_train(args: argparse.Namespace) -> int:
    from cites_guard.training import TrainingConfig, train  # noqa: PLC0415

    corpus = Path(args.corpus) if args.corpus else None
    # Options left unset keep TrainingConfig's defaults: they define the shipped model.
    tuning = {
        name: getattr(args, name)
        for name in ("seed", "epochs", "members", "dim", "hidden", "token_dropout")
        if getattr(args, name) is not None
    }
    if args.no_title_views:
        tuning["title_views"] = False
    if args.no_counterfactuals:
        tuning["counterfactuals"] = False
    config = TrainingConfig(
        output=Path(args.output),
        corpus=corpus,
        data=tuple(Path(p) for p in args.data),
        holdout_languages=tuple(args.holdout_language),
        holdout_groups=tuple(args.holdout_group),
        limit=args.limit,
        **tuning,
    )
    result = train(config)
    sys.stdout.write(
        json.dumps(
            {
                "output": str(result.output),
                "examples": result.examples,
                "metrics": result.metrics,
                "seconds": round(result.seconds, 1),
            },
            indent=2,
        )
        + "\n"
    )
    return 0


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="settings file (.json or .toml)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: bundled)")
    parser.add_argument("--no-model", action="store_true", help="score from evidence alone")


def register(commands: Commands[argparse.ArgumentParser]) -> None:
    """Add ``eval``, ``calibrate`` and ``train`` to the ``cites-guard`` command."""
    ev = commands.add_parser("eval", help="measure on a labelled JSONL file")
    ev.add_argument("input", metavar="FILE.jsonl")
    _model_options(ev)
    ev.add_argument("--threshold", type=float, help="review threshold (0..1)")
    ev.add_argument("--baseline", choices=["keywords"], help="also run a baseline")
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.add_argument("--plot", metavar="FILE.html", help="write the PR curve (HTML/SVG)")
    ev.set_defaults(handler=_cmd_eval)

    cal = commands.add_parser("calibrate", help="pick thresholds for a target precision")
    cal.add_argument("input", metavar="FILE.jsonl")
    _model_options(cal)
    cal.add_argument("--precision", type=float, required=True, help="target precision")
    cal.add_argument("-o", "--output", default="cites-guard.toml", help="settings file to write")
    cal.set_defaults(handler=_cmd_calibrate)

    tr = commands.add_parser("train", help="rebuild the model (needs the 'train' extra)")
    tr.add_argument("--output", default="models", help="model directory to write")
    tr.add_argument("--corpus", default="corpus", help="folder of hand-written JSONL")
    tr.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="FILE",
        help="extra labelled JSONL (repeatable)",
    )
    tr.add_argument("--seed", type=int, help="random seed (default: the shipped model's)")
    tr.add_argument("--epochs", type=int, help="passes over the training set")
    tr.add_argument("--holdout-language", action="append", default=[], metavar="LANG")
    tr.add_argument("--holdout-group", action="append", default=[], metavar="GROUP")
    tr.add_argument("--limit", type=int, help="cap examples per split (smoke tests)")
    tr.add_argument(
        "--members", type=int, help="networks trained on differently seeded data and averaged"
    )
    tr.add_argument("--dim", type=int, help="embedding size")
    tr.add_argument("--hidden", type=int, help="hidden layer size")
    tr.add_argument(
        "--token-dropout", type=float, help="share of tokens hidden from each training ad"
    )
    tr.add_argument(
        "--no-title-views",
        action="store_true",
        help="do not add each corpus ad's title as an ad of its own",
    )
    tr.add_argument(
        "--no-counterfactuals",
        action="store_true",
        help="do not add corpus offers with their specimen words cut out as negatives",
    )
    tr.set_defaults(handler=_cmd_train)
