"""`dlngraph sweep SWEEP.yaml`: every run of a sweep file into one folder, ranked."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path

from dlngraph.cli import CommandError, add_server_arguments, at_least_one, check_server_arguments
from dlngraph.cli.progress import three_decimals
from dlngraph.cli.train import budget_entry
from dlngraph.runs.sweep import SWEEP_FILE, RunRecord, SweepOptions, SweepResult, plan_sweep, ranked, run_sweep
from dlngraph.runs.sweep_file import Sweep, load_sweep
from dlngraph.words import plural

NAME = "sweep"
HELP = "train every run of a sweep file (a grid of overrides and seeds) into one folder, ranked"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", type=Path, metavar="SWEEP", help="YAML sweep file (spec, grid, variants, seeds, metric)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the sweep folder (default: sweeps/<sweep file name>); re-running continues it")
    parser.add_argument("--max-parallel", type=at_least_one, default=2, metavar="N",
                        help="runs trained at once in this process (default 2)")
    parser.add_argument("--budget", action="append", default=[], type=budget_entry, metavar="calls=N|tokens=N",
                        help="the whole sweep stops cleanly when this many calls or tokens are spent (repeatable)")
    parser.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                        help="run each run as a task on the Ray cluster at ADDRESS (auto, ray://HOST:10001), or on a"
                             " local Ray when no ADDRESS is given; needs pip install 'dlngraph[ray]'")
    parser.add_argument("--cpus-per-run", type=float, default=1.0, metavar="N",
                        help="with --ray: the CPUs each run's task declares (default 1)")
    add_server_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the runs and their expected calls, then exit")


def run(args: argparse.Namespace) -> int:
    check_server_arguments(args)
    if args.cpus_per_run <= 0:
        raise CommandError("--cpus-per-run must be above 0", exit_code=2)
    sweep = load_sweep(args.sweep)
    out = args.out if args.out is not None else Path("sweeps") / args.sweep.stem
    if args.dry_run:
        return _dry_run(sweep, out)
    options = SweepOptions(out=out, max_parallel=args.max_parallel, base_url=args.base_url,
                           api_key_env=args.api_key_env, **dict(args.budget))
    print(f"{args.sweep}: {plural(len(sweep.runs), 'run')} into {out}", file=sys.stderr)
    try:
        if args.ray is not None:
            result = _on_ray(sweep, options, args)
        else:
            result = asyncio.run(run_sweep(sweep, options, _print_finished))
    except KeyboardInterrupt:
        print(f"interrupted; continue with: dlngraph sweep {shlex.quote(str(args.sweep))} --out {shlex.quote(str(out))}",
              file=sys.stderr)
        return 130
    print_table(result, out)
    failed = [record for record in result.runs if record.status == "failed"]
    return 1 if failed else 0


def _on_ray(sweep: Sweep, options: SweepOptions, args: argparse.Namespace) -> SweepResult:
    try:
        import ray  # noqa: F401 - only to say what to install

        from dlngraph.runs.sweep_ray import RayOptions, run_sweep_on_ray
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] == "ray":
            raise CommandError("--ray needs Ray: pip install 'dlngraph[ray]'") from None
        raise
    ray_options = RayOptions(address=args.ray or None, cpus_per_run=args.cpus_per_run)
    return run_sweep_on_ray(sweep, options, ray_options, _print_finished)


def print_table(result: SweepResult, out: Path) -> None:
    """The finished runs best first by the sweep's metric, then the others with their state."""
    print(f"{'rank':>4}  {'run':<40} {'dev: start -> best':>19} {'test':>6} {'calls':>7} {'wall':>7}")
    best = ranked(result.runs, result.metric)
    for rank, record in enumerate(best, 1):
        summary = record.summary
        assert summary is not None
        dev = f"{three_decimals(summary.initial_dev_accuracy)} -> {three_decimals(summary.best_dev_accuracy)}"
        stopped = " (budget)" if summary.stopped == "budget" else ""
        print(f"{rank:>4}  {record.id + stopped:<40} {dev:>19} {three_decimals(summary.test_accuracy):>6}"
              f" {summary.calls:>7} {summary.wall_time_s:>6.1f}s")
    for record in result.runs:
        if record not in best:
            print(f"{'-':>4}  {record.id:<40} {record.status}{': ' + record.error if record.error else ''}")
    print(f"ranked by {result.metric}; every run's state in {out / SWEEP_FILE}")


def _print_finished(record: RunRecord) -> None:
    if record.status == "failed":
        print(f"failed:   {record.id}: {record.error}", file=sys.stderr)
    elif record.summary is not None:
        print(f"{record.status + ':':<9} {record.id}: dev {three_decimals(record.summary.best_dev_accuracy)} best,"
              f" test {three_decimals(record.summary.test_accuracy)}", file=sys.stderr)


def _dry_run(sweep: Sweep, out: Path) -> int:
    planned = plan_sweep(sweep, out)
    print(f"{'run':<48} {'state':<9} {'expected calls':>15}")
    for item in planned:
        print(f"{item.run.id:<48} {item.state:<9} {item.expected_calls:>15}")
    left = sum(item.expected_calls for item in planned if item.state != "finished")
    print(f"{plural(len(planned), 'run')}, about {left} calls for the runs not finished"
          f" (upper bounds: the cache and deduplication save some)")
    return 0
