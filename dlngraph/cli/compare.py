"""`dlngraph compare RUN_DIR...`: runs side by side, as a table; with `--out`, their curves
overlaid (PNGs and compare.html)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dlngraph.cli import CommandError
from dlngraph.cli.report import load_report_module

NAME = "compare"
HELP = "compare run directories: accuracy, cost and time side by side, curves overlaid with --out"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories to compare")
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write the overlaid curves and compare.html here")


def run(args: argparse.Namespace) -> int:
    runlog = load_report_module("runlog")
    comparison = load_report_module("comparison")
    try:
        runs = [runlog.read_run(path) for path in args.run_dirs]
    except runlog.NotARunDirectory as error:
        raise CommandError(str(error)) from None
    print(comparison.comparison_table(runs), end="")
    if args.out is not None:
        print(f"wrote {comparison.write_comparison(runs, args.out)}")
    return 0
