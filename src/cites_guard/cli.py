"""The ``cites-guard`` command: a thin shell over the library.

Sub-commands: ``score`` (batch scoring), ``taxa`` (what the taxonomy knows), and those
registered by other modules (evaluation, training, reports, receiver). Exit status: 0 on
success, 1 when some input records were rejected (the rest were processed), 2 when the
command could not run at all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cites_guard import __version__
from cites_guard.errors import CitesGuardError
from cites_guard.taxonomy import load_taxonomy

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


def _cmd_taxa(args: argparse.Namespace) -> int:
    taxonomy = load_taxonomy()
    found = taxonomy.search(args.query) if args.query else list(taxonomy.taxa)
    if args.json:
        for taxon in found:
            sys.stdout.write(taxon.model_dump_json() + "\n")
        return 0
    if not found:
        sys.stdout.write(f"no taxon matches {args.query!r}\n")
        return 1
    for taxon in found:
        names = "; ".join(
            f"{lang}: {', '.join(terms[:3])}" for lang, terms in sorted(taxon.names.items())
        )
        sys.stdout.write(
            f"{taxon.name} ({taxon.rank}) Appendix {taxon.appendix} [{taxon.group}]\n  {names}\n"
        )
        if taxon.appendix_note:
            sys.stdout.write(f"  note: {taxon.appendix_note}\n")
        if args.query:
            products = sorted({t for terms in taxon.products.values() for t in terms})
            codes = sorted({t for terms in taxon.code_words.values() for t in terms})
            if products:
                sys.stdout.write(f"  products: {', '.join(products[:40])}\n")
            if codes:
                sys.stdout.write(f"  code words: {', '.join(codes[:40])}\n")
    sys.stdout.write(f"{len(found)} taxa (taxonomy {taxonomy.version})\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cites-guard`` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="cites-guard",
        description="Detect marketplace listings that offer CITES-listed wildlife.",
    )
    parser.add_argument("--version", action="version", version=f"cites-guard {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    taxa = commands.add_parser("taxa", help="look up what the taxonomy knows")
    taxa.add_argument("query", nargs="?", help="a scientific or common name, any language")
    taxa.add_argument("--json", action="store_true", help="print full entries as JSONL")
    taxa.set_defaults(handler=_cmd_taxa)

    for register in _plugins():
        register(commands)
    return parser


def _plugins() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Sub-commands that live beside the modules they drive."""
    from cites_guard import _cli_model, _cli_reports, _cli_score  # noqa: PLC0415 - lean start-up

    return [_cli_score.register, _cli_model.register, _cli_reports.register]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CitesGuardError as exc:
        sys.stderr.write(f"cites-guard: error: {exc}\n")
        return 2
    except OSError as exc:  # a file that cannot be read or written
        sys.stderr.write(f"cites-guard: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cites-guard: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
