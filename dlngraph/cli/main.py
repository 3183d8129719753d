"""Entry point of the `dlngraph` command: parses arguments and dispatches to a subcommand.

Every subcommand is a module listed in `COMMANDS` (see `dlngraph/cli/__init__.py`). Errors the
user can act on are printed as messages, never as tracebacks; `--traceback` shows the Python
traceback of an unexpected failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dlngraph import __version__
from dlngraph.cli import (
    Command,
    CommandError,
    bench,
    compare,
    data,
    demo,
    evaluate,
    report,
    show,
    specs,
    sweep,
    train,
    validate,
)
from dlngraph.data.errors import DataError
from dlngraph.dln.roles import TrainingError
from dlngraph.llm.errors import LLMError
from dlngraph.runs.gc_tuning import tune_gc
from dlngraph.runs.overrides import OverrideError
from dlngraph.spec import SpecError
from dlngraph.spec.metrics import MetricError

COMMANDS: list[Command] = [validate, show, train, sweep, evaluate, report, compare, demo, bench, data, specs]
"""Subcommands in the order `--help` lists them; add new command modules here."""

USER_ERRORS = (DataError, TrainingError, LLMError, OverrideError, MetricError)
"""Failures a user can act on (bad data, a run where every example failed, a model that cannot
be reached or asked): their messages say what went wrong, a traceback would not help."""
TRACEBACK_HELP = "show the Python traceback of an unexpected error"


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: an option it does not know is reported with its own usage, not
    the top-level one (argparse leaves leftovers to the top-level parser)."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def, override]
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlngraph", description="Deep Language Networks as YAML graphs, trained with variational inference."
    )
    parser.add_argument("--version", action="version", version=f"dlngraph {__version__}")
    parser.add_argument("--traceback", action="store_true", help=TRACEBACK_HELP)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True, parser_class=_CommandParser)
    for command in COMMANDS:
        subparser = subparsers.add_parser(command.NAME, help=command.HELP, description=command.HELP)
        command.add_arguments(subparser)
        # Also after the command; SUPPRESS keeps a `--traceback` given before it.
        subparser.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=TRACEBACK_HELP)
        subparser.set_defaults(command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `dlngraph` with `argv` (default: the process arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version, or a usage error (already printed)
        return exit_request.code if isinstance(exit_request.code, int) else 0
    tune_gc()
    try:
        command: Command = args.command
        return command.run(args)
    except SpecError as error:
        print(error, file=sys.stderr)
        return 1
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except USER_ERRORS as error:
        if args.traceback:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.traceback:
            raise
        print(f"internal error: {type(error).__name__}: {error} (run with --traceback for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
