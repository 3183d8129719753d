"""`dlngraph demo`: the main job. Trains DLN-1 and DLN-2 from the shipped `specs/demo/` on a generated task
with the embedded model, offline, over several seeds, and prints them beside the 0-shot
baseline and the k-shot one (the mean over random draws of k training examples, with its
spread). The last line sums it up for scripts:

    demo: zero_shot_test=0.810 kshot_test=0.850 dln1_test=0.823 dln2_test=0.800 seeds=3 wall_s=412

Everything it does is also a command of its own (`dlngraph eval --baselines`, `dlngraph
train`); the demo strings them together (`dlngraph.runs.demo`) and prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgspec

from dlngraph.cli import CommandError, add_server_arguments, at_least_one, check_server_arguments
from dlngraph.cli.evaluate import add_baseline_arguments
from dlngraph.cli.progress import Progress, add_progress_argument, three_decimals
from dlngraph.dln.rundir import atomic_write
from dlngraph.engine import EventBus
from dlngraph.runs.demo import DemoOptions, DemoResult, SystemResult, run_demo
from dlngraph.runs.train import UsageWatcher
from dlngraph.spec.shipped import SHIPPED_SPECS
from dlngraph.words import plural

NAME = "demo"
HELP = "train DLN-1 and DLN-2 on a generated task with the embedded model and compare them with 0-shot and k-shot"

SPECS_DIR = SHIPPED_SPECS / "demo"
DEMO_SPECS = ("dln1.yaml", "dln2.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--specs", type=Path, default=SPECS_DIR, help="folder holding dln1.yaml and dln2.yaml")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder for run directories (default: runs)")
    parser.add_argument("--seeds", type=at_least_one, default=3, metavar="N",
                        help="train each network with training seeds 1..N (default: 3)")
    parser.add_argument("--model", type=Path, metavar="PATH",
                        help="any GGUF model file for every local model, instead of the embedded Gemma 3 270M")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test of the whole pipeline: one seed, one iteration, a dozen examples per split")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a training field of both networks (repeatable)")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write every system's figures, per seed and per k-shot draw, to PATH as JSON")
    add_baseline_arguments(parser, shots=None, default_says="the specs' num_demos, else 5")
    add_server_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    check_server_arguments(args)
    if args.model is not None and args.base_url is not None:
        raise CommandError("--model is a file for the embedded backend and --base-url a server: give one of them", exit_code=2)
    if args.model is not None and not args.model.is_file():
        raise CommandError(f"--model {args.model}: no such file (expected a GGUF model file)", exit_code=2)
    paths = [args.specs / name for name in DEMO_SPECS]
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise CommandError(f"demo specs not found: {', '.join(missing)} (use --specs FOLDER)")
    options = DemoOptions(
        specs=paths, seeds=list(range(1, args.seeds + 1)), runs_root=args.runs, overrides=args.overrides,
        model_path=args.model, base_url=args.base_url, api_key_env=args.api_key_env, quick=args.quick,
        shots=args.shots, kshot_draws=args.kshot_draws,
    )
    result = asyncio.run(run_demo(options, lambda title: _progress(args.progress, title)))
    print()
    print_table(result)
    print(summary_line(result))
    if args.json is not None:
        atomic_write(args.json, msgspec.json.format(msgspec.json.encode(result)) + b"\n")
    return 0


@contextmanager
def _progress(mode: str, title: str) -> Iterator[tuple[EventBus, UsageWatcher]]:
    events = EventBus()
    with Progress(mode, title=title) as progress:  # type: ignore[arg-type]
        events.subscribe(progress)
        yield events, progress.watch


def print_table(result: DemoResult) -> None:
    print(f"mean over {plural(len(result.seeds), 'seed')} ({', '.join(map(str, result.seeds))});"
          " dev: start -> best, test: of the best prompts; k-shot: mean over random draws of k training examples")
    print(f"{'system':<8} {'dev start':>9} {'dev best':>9} {'test':>7}  {'test per seed or draw':<32} {'calls':>7}"
          f" {'tokens':>9} {'wall time':>10}")
    for row in result.systems:
        print(f"{row.system:<8} {three_decimals(row.mean_start_dev):>9} {three_decimals(row.mean_dev):>9}"
              f" {three_decimals(row.mean_test):>7}  {_per_seed(row):<32} {row.calls:>7} {row.tokens:>9}"
              f" {row.wall_time_s:>9.0f}s")
    print(f"total wall time {result.wall_time_s:.0f}s")


def summary_line(result: DemoResult) -> str:
    """`demo: zero_shot_test=0.XXX kshot_test=0.XXX dln1_test=0.XXX dln2_test=0.XXX seeds=N wall_s=N`."""
    tests = {row.system: three_decimals(row.mean_test) for row in result.systems}
    kshot = next((three_decimals(row.mean_test) for row in result.systems if row.test_draws), "-")
    return (f"demo: zero_shot_test={tests.get('0-shot', '-')} kshot_test={kshot} dln1_test={tests.get('DLN-1', '-')}"
            f" dln2_test={tests.get('DLN-2', '-')} seeds={len(result.seeds)} wall_s={result.wall_time_s:.0f}")


def _per_seed(row: SystemResult) -> str:
    """Each seed's test accuracy, or the k-shot baseline's spread over its draws."""
    if row.test_draws:
        spread = row.test_spread
        return f"{len(row.test_draws)} draws" + ("" if spread is None else f" {spread.describe()}")
    return ", ".join(three_decimals(value) for value in row.test) if len(row.test) > 1 else "-"

