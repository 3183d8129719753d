"""`dlngraph report RUN_DIR`: a run's learning curves, prompts, candidates, costs and network, as
one self-contained HTML page (report.html) and the PNG charts it shows."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from types import ModuleType

from dlngraph.cli import CommandError
from dlngraph.dln.run_format import FormatVersionError
from dlngraph.runs.sweep import sweep_run_dirs

NAME = "report"
HELP = "write report.html (curves, prompts, candidates, costs, network picture) for a run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="a run directory written by `dlngraph train`, or a sweep folder: a report per run"
                             " and compare.html beside them")
    parser.add_argument("--out", type=Path, metavar="DIR", help="folder for report.html and the PNGs (default: RUN_DIR)")
    parser.add_argument("--top-k", type=int, default=3, metavar="K",
                        help="candidates shown per node and step, best first (default 3)")


def run(args: argparse.Namespace) -> int:
    run_report = load_report_module("run_report")
    runlog = load_report_module("runlog")
    if args.top_k < 1:
        raise CommandError("--top-k must be at least 1")
    sweep_runs = sweep_run_dirs(args.run_dir)
    if sweep_runs is not None:
        return _sweep_report(args.run_dir, sweep_runs, args)
    try:
        page = run_report.write_report(args.run_dir, args.out, top_k=args.top_k)
    except (runlog.NotARunDirectory, FormatVersionError) as error:
        raise CommandError(str(error)) from None
    print(f"wrote {page}")
    return 0


def _sweep_report(folder: Path, run_dirs: list[Path], args: argparse.Namespace) -> int:
    """Every started run's report (under --out/<run id> with --out), and their comparison; every
    run is read before anything is written."""
    if not run_dirs:
        raise CommandError(f"{folder}: the sweep has no run started yet")
    run_report = load_report_module("run_report")
    runlog = load_report_module("runlog")
    comparison = load_report_module("comparison")
    try:
        runs = [runlog.read_run(path) for path in run_dirs]
    except FormatVersionError as error:
        raise CommandError(str(error)) from None
    out = args.out if args.out is not None else folder
    for run in runs:
        page = run_report.write_run_report(run, None if args.out is None else out / run.name, top_k=args.top_k)
        print(f"wrote {page}")
    print(f"wrote {comparison.write_comparison(runs, out)}")
    return 0


def load_report_module(name: str) -> ModuleType:
    """`dlngraph.report.<name>`, imported when a command runs rather than when `dlngraph` starts:
    matplotlib takes a second to import, and it is an optional extra (`dlngraph[report]`)."""
    try:
        return importlib.import_module(f"dlngraph.report.{name}")
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] == "matplotlib":
            raise CommandError("pictures need matplotlib: pip install 'dlngraph[report]'") from None
        raise
