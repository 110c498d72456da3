"""The ``reports`` and ``receiver`` sub-commands of the ``cites-guard`` CLI.

``cli.py`` calls :func:`register` with its sub-parsers; every handler takes the parsed
arguments and returns the exit code: 0 success, 1 configuration or storage error, 2 work left
(pending or rejected rows after a flush or DSA export), 3 credentials refused (401/403).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cites_guard._delivery import describe_receipt
from cites_guard._settings import ENV_OUTBOX, ReportSettings
from cites_guard.errors import CitesGuardError, ReportAuthError, ReportDeliveryError
from cites_guard.outbox import Outbox
from cites_guard.report import Reporter, parse_report

__all__ = ["load_settings", "open_reporter", "register"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_PENDING = 2
EXIT_AUTH = 3

Handler = Callable[[argparse.Namespace], int]


def load_settings(config_path: str | None, outbox_path: str | None) -> ReportSettings:
    """Read settings from a JSON/TOML config, else from the environment; apply ``--outbox``.

    Raises:
        ConfigError: The config is missing, unreadable or invalid.
    """
    settings = ReportSettings.from_file(config_path) if config_path else ReportSettings.from_env()
    if outbox_path:
        settings = settings.model_copy(update={"outbox_path": Path(outbox_path)})
    return settings


def open_reporter(config_path: str | None, outbox_path: str | None) -> Reporter:
    """Open a :class:`Reporter` as ``cites-guard score --report`` needs it.

    Raises:
        ConfigError: The settings are missing or invalid.
        OutboxError: The outbox cannot be opened.
    """
    return Reporter(load_settings(config_path, outbox_path))


def _outbox(args: argparse.Namespace) -> Outbox:
    """Open the outbox named by --outbox, the config, the environment, or the default."""
    if args.outbox:
        return Outbox(args.outbox)
    if args.config:
        return Outbox(ReportSettings.from_file(args.config).outbox_path)
    default = ReportSettings.model_fields["outbox_path"].default
    return Outbox(os.environ.get(ENV_OUTBOX) or default)


def _emit(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, sort_keys=True, ensure_ascii=False) + "\n")


def _status(args: argparse.Namespace) -> int:
    counts = _outbox(args).counts()
    if args.json:
        _emit(counts, sys.stdout)
    else:
        sys.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()) + "\n")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    for row in _outbox(args).rows(state=args.state, limit=args.limit):
        _emit(
            {
                "report_id": row.report_id,
                "state": row.state,
                "attempts": row.attempts,
                "last_status": row.last_status,
                "last_error": row.last_error,
                "next_attempt_at": row.next_attempt_at,
                "dead_kind": row.dead_kind,
                "dead_response": row.dead_response,
                "receipt": describe_receipt(row.receipt),
                "dsa_state": row.dsa_state,
            },
            sys.stdout,
        )
    return EXIT_OK


def _retry_dead(args: argparse.Namespace) -> int:
    count = _outbox(args).retry_dead()
    sys.stdout.write(f"requeued {count} dead report(s) (rejected ones stay dead)\n")
    return EXIT_OK


def _flush(args: argparse.Namespace) -> int:
    with open_reporter(args.config, args.outbox) as reporter:
        deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
        total = {"sent": 0, "deferred": 0, "dead": 0}
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                result = reporter.flush(max_seconds=left)
            except ReportAuthError as exc:
                sys.stderr.write(f"stopped: {exc}\n")
                return EXIT_AUTH
            for key in total:
                total[key] += getattr(result, key)
            due = reporter.outbox.next_due_at()
            if not args.wait or due is None:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
            pause = max(0.0, due - time.time())
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            # Poll: rows leased by another sender may settle before their lease expires.
            time.sleep(min(pause, 0.5))
        _emit({"this_run": total, "outbox": reporter.outbox.counts()}, sys.stdout)
        return EXIT_PENDING if reporter.outbox.counts()["pending"] else EXIT_OK


def _export_dsa(args: argparse.Namespace) -> int:
    from cites_guard.dsa import (  # noqa: PLC0415 - only this command needs it
        DsaBatchResult,
        DsaClient,
        statement_from_report,
    )

    settings = load_settings(args.config, args.outbox)
    outbox = Outbox(settings.outbox_path)
    rows = [r for r in outbox.rows(limit=args.limit) if r.state != "dead" and r.dsa_state != "sent"]
    statements = [statement_from_report(parse_report(r.body), settings=settings) for r in rows]
    by_puid = {s.puid: r.report_id for s, r in zip(statements, rows, strict=True)}
    out = Path(args.out).open("w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    try:
        for statement in statements:
            _emit(statement.payload(), out)
    finally:
        if args.out:
            out.close()
    if not args.submit:
        return EXIT_OK
    client = DsaClient.from_settings(settings)
    try:
        result = client.submit(statements)
    except ReportAuthError as exc:
        sys.stderr.write(f"stopped: {exc}\n")
        return EXIT_AUTH
    except ReportDeliveryError as exc:
        sys.stderr.write(f"DSA submission interrupted: {exc}\n")
        partial: DsaBatchResult | None = getattr(exc, "partial", None)
        if partial is None:
            return EXIT_PENDING
        result = partial
    for puid in result.delivered:
        outbox.set_dsa_state(by_puid[puid], "sent")
    for puid, problems in result.rejected.items():
        outbox.set_dsa_state(by_puid[puid], "rejected", "; ".join(problems))
    sys.stderr.write(
        f"DSA: {len(result.delivered)} delivered ({len(result.duplicates)} already there),"
        f" {len(result.rejected)} rejected\n"
    )
    return EXIT_PENDING if result.rejected else EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from cites_guard.receiver import serve  # noqa: PLC0415 - only the receiver needs it

    secrets = list(args.secret or [])
    if not secrets and os.environ.get("CITES_GUARD_RECEIVER_SECRET"):
        secrets = os.environ["CITES_GUARD_RECEIVER_SECRET"].split()
    if not secrets:
        sys.stderr.write("receiver serve needs --secret (or CITES_GUARD_RECEIVER_SECRET)\n")
        return EXIT_ERROR
    serve(
        args.port, secrets, args.db, args.host, token=os.environ.get("CITES_GUARD_RECEIVER_TOKEN")
    )
    return EXIT_OK


def _dump(args: argparse.Namespace) -> int:
    from cites_guard.receiver import dump  # noqa: PLC0415 - only the receiver needs it

    for case in dump(args.db):
        _emit(case, sys.stdout)
    return EXIT_OK


def _guarded(handler: Handler) -> Handler:
    """Turn cites-guard errors into a message and exit code 1 (no traceback, no secrets)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except CitesGuardError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return EXIT_ERROR

    return run


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``reports`` and ``receiver`` commands; each sets ``args.handler``.

    Example:
        >>> parser = argparse.ArgumentParser(prog="cites-guard")
        >>> register(parser.add_subparsers(dest="command"))
        >>> args = parser.parse_args(["reports", "status", "--json", "--outbox", "x.db"])
        >>> args.json, args.outbox
        (True, 'x.db')
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--outbox", metavar="FILE", help="outbox SQLite file")
    common.add_argument("--config", metavar="FILE", help="report settings (JSON or TOML)")

    reports = subparsers.add_parser("reports", help="enforcement report outbox")
    rsub = reports.add_subparsers(dest="reports_command", required=True)
    status = rsub.add_parser("status", parents=[common], help="counts per state")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=_guarded(_status))
    flush = rsub.add_parser("flush", parents=[common], help="deliver due reports")
    flush.add_argument("--max-seconds", type=float, default=None)
    flush.add_argument("--wait", action="store_true", help="keep going until nothing is pending")
    flush.set_defaults(handler=_guarded(_flush))
    listing = rsub.add_parser("list", parents=[common], help="print rows as JSONL")
    listing.add_argument("--state", choices=("pending", "sent", "dead"))
    listing.add_argument("--limit", type=int, default=1000)
    listing.set_defaults(handler=_guarded(_list))
    retry = rsub.add_parser("retry-dead", parents=[common], help="requeue exhausted rows")
    retry.set_defaults(handler=_guarded(_retry_dead))
    export = rsub.add_parser("export-dsa", parents=[common], help="DSA statements of reasons")
    export.add_argument("--out", metavar="FILE", help="write JSONL here instead of stdout")
    export.add_argument("--submit", action="store_true", help="submit to the DSA database")
    export.add_argument("--limit", type=int, default=100_000)
    export.set_defaults(handler=_guarded(_export_dsa))

    receiver = subparsers.add_parser("receiver", help="reference enforcement receiver")
    vsub = receiver.add_subparsers(dest="receiver_command", required=True)
    serve = vsub.add_parser("serve", help="run the receiver")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--secret", action="append", help="signing secret (repeat to rotate)")
    serve.add_argument("--db", required=True, metavar="FILE")
    serve.add_argument("--host", default="127.0.0.1")
    serve.set_defaults(handler=_guarded(_serve))
    dump = vsub.add_parser("dump", help="print stored cases as JSONL")
    dump.add_argument("--db", required=True, metavar="FILE")
    dump.set_defaults(handler=_guarded(_dump))


def main(argv: list[str] | None = None) -> int:
    """Run only these sub-commands (for tests and until ``cli.py`` wires them in)."""
    parser = argparse.ArgumentParser(prog="cites-guard")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
