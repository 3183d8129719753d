"""`dlngraph demo`: the main job. Trains DLN-1 and DLN-2 from `specs/` on a generated task
with the embedded model, offline, and prints them beside the 0-shot baseline.

Everything it does is also a command of its own (`dlngraph eval --baselines`, `dlngraph
train`); the demo strings them together and prints one table at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import msgspec

from dlngraph.cli import CommandError, add_server_arguments, check_server_arguments
from dlngraph.cli.progress import Progress, add_progress_argument, three_decimals
from dlngraph.cli.train import print_summary
from dlngraph.engine import EventBus
from dlngraph.runs import RunSummary, TrainOptions, evaluate_splits, train_spec

NAME = "demo"
HELP = "train DLN-1 and DLN-2 on a generated task with the embedded model and compare them with 0-shot"

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"
DEMO_SPECS = ("dln1.yaml", "dln2.yaml")


class DemoRow(msgspec.Struct, kw_only=True):
    system: str
    dev: float | None
    test: float | None
    calls: int
    tokens: int
    wall_time_s: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--specs", type=Path, default=SPECS_DIR, help="folder holding dln1.yaml and dln2.yaml")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder for run directories (default: runs)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a training field of both runs (repeatable)")
    add_server_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    check_server_arguments(args)
    paths = [args.specs / name for name in DEMO_SPECS]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise CommandError(f"demo specs not found: {', '.join(missing)} (use --specs FOLDER)")
    rows = asyncio.run(_demo(paths, args))
    print()
    print_table(rows)
    return 0


async def _demo(paths: list[Path], args: argparse.Namespace) -> list[DemoRow]:
    rows = [await _zero_shot(paths[0], args.base_url, args.api_key_env)]
    options = TrainOptions(
        runs_root=args.runs, overrides=args.overrides, base_url=args.base_url, api_key_env=args.api_key_env
    )
    for path in paths:
        events = EventBus()
        with Progress(args.progress, title=path.stem) as progress:
            events.subscribe(progress)
            summary = await train_spec(path, options, events, progress.watch)
        print_summary(summary)
        rows.append(_trained_row(path.stem.upper().replace("DLN", "DLN-"), summary))
    return rows


async def _zero_shot(spec_path: Path, base_url: str | None, api_key_env: str | None) -> DemoRow:
    """The initial instruction alone, on dev and test (the paper's 0-shot row)."""
    started = time.perf_counter()
    print(f"[0-shot] evaluating the initial instruction of {spec_path.name} on dev and test ...", flush=True)
    dev, test = await evaluate_splits(
        spec_path, splits=("dev", "test"), baselines="only", shots=0, base_url=base_url, api_key_env=api_key_env
    )
    (zero_dev,), (zero_test,) = dev.rows, test.rows
    return DemoRow(
        system="0-shot", dev=zero_dev.accuracy, test=zero_test.accuracy,
        calls=dev.calls + test.calls,
        tokens=dev.prompt_tokens + dev.completion_tokens + test.prompt_tokens + test.completion_tokens,
        wall_time_s=time.perf_counter() - started,
    )


def _trained_row(system: str, summary: RunSummary) -> DemoRow:
    return DemoRow(
        system=system, dev=summary.best_dev_accuracy, test=summary.test_accuracy, calls=summary.calls,
        tokens=summary.prompt_tokens + summary.completion_tokens, wall_time_s=summary.wall_time_s,
    )


def print_table(rows: list[DemoRow]) -> None:
    print(f"{'system':<8} {'dev acc':>8} {'test acc':>9} {'calls':>7} {'tokens':>9} {'wall time':>10}")
    for row in rows:
        print(f"{row.system:<8} {three_decimals(row.dev):>8} {three_decimals(row.test):>9} {row.calls:>7} {row.tokens:>9}"
              f" {row.wall_time_s:>9.0f}s")
    total = sum(row.wall_time_s for row in rows)
    print(f"total wall time {total:.0f}s")

