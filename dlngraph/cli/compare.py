"""`dlngraph compare RUN_DIR...`: runs side by side, as a table; with `--out`, their curves
overlaid (PNGs and compare.html)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dlngraph.cli import CommandError
from dlngraph.cli.report import load_report_module
from dlngraph.dln.run_format import FormatVersionError
from dlngraph.runs.sweep import sweep_run_dirs

NAME = "compare"
HELP = "compare run directories: accuracy, cost and time side by side, curves overlaid with --out"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR",
                        help="run directories to compare; a sweep folder stands for its runs, best first")
    parser.add_argument("--out", type=Path, metavar="DIR", help="also write the overlaid curves and compare.html here")


def run(args: argparse.Namespace) -> int:
    runlog = load_report_module("runlog")
    comparison = load_report_module("comparison")
    try:
        runs = [runlog.read_run(path) for path in expand_sweeps(args.run_dirs)]
    except (runlog.NotARunDirectory, FormatVersionError) as error:
        raise CommandError(str(error)) from None
    print(comparison.comparison_table(runs), end="")
    if args.out is not None:
        print(f"wrote {comparison.write_comparison(runs, args.out)}")
    return 0


def expand_sweeps(paths: list[Path]) -> list[Path]:
    """Each path, or for a sweep folder (with sweep.json) the run directories it has started."""
    expanded = []
    for path in paths:
        runs = sweep_run_dirs(path)
        if runs == []:
            raise CommandError(f"{path}: the sweep has no run started yet")
        expanded.extend(runs if runs is not None else [path])
    return expanded
