"""`dlngraph train SPEC` (or `--resume RUN_DIR`): train a network's prompts."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sqlite3
import sys
from pathlib import Path

from dlngraph.cli import CommandError, add_server_arguments, check_server_arguments
from dlngraph.cli.progress import Progress, add_progress_argument, requests_sent, three_decimals
from dlngraph.dln.plan import calls_per_iteration, dependency_depth, validation_passes
from dlngraph.dln.run_format import FormatVersionError
from dlngraph.dln.rundir import RunDirectoryError
from dlngraph.engine import EventBus
from dlngraph.graph import compile_network
from dlngraph.runs import RunSummary, TrainOptions, resume_run, train_spec
from dlngraph.runs.overrides import OverrideError, apply_overrides
from dlngraph.runs.session import dataset_of
from dlngraph.spec import load_spec
from dlngraph.spec.training import TrainingSpec
from dlngraph.words import plural

NAME = "train"
HELP = "train the prompts of a network spec (writes a run directory under --runs)"


STOPPED = {"completed": "completed", "early_stop": "stopped early", "budget": "stopped by the budget"}
"""How the summary says why a run stopped (`RunSummary.stopped`)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", nargs="?", type=Path, metavar="SPEC", help="YAML spec file")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last checkpoint")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a training field, e.g. --set iterations=5 (repeatable)")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder for run directories (default: runs)")
    parser.add_argument("--budget", action="append", default=[], type=budget_entry, metavar="calls=N|tokens=N",
                        help="stop cleanly at a checkpoint when this many calls or tokens are spent (repeatable)")
    add_server_arguments(parser)
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the run's LLM cache")
    parser.add_argument("--dry-run", action="store_true", help="print the expected calls per iteration and phase, then exit")
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    if (args.spec is None) == (args.resume is None):
        raise CommandError("give a SPEC to start a run, or --resume RUN_DIR to continue one (not both)")
    if args.resume is not None and args.overrides:
        raise CommandError("--set changes a new run; a resumed run keeps the spec it started with (its spec.yaml)")
    if args.resume is not None and not args.resume.is_dir():
        problem = "not a directory" if args.resume.exists() else "the run directory does not exist"
        raise CommandError(f"--resume {args.resume}: {problem}")
    check_server_arguments(args)
    if args.dry_run:
        return _dry_run(args)
    options = TrainOptions(
        runs_root=args.runs, overrides=args.overrides, base_url=args.base_url, api_key_env=args.api_key_env,
        cache="off" if args.no_cache else "readwrite", **dict(args.budget),
    )
    events = EventBus()
    run_dirs: list[str] = []
    events.subscribe(lambda event: run_dirs.append(event.data["run_dir"]) if event.kind == "run" else None)
    with Progress(args.progress, title=str(args.spec or args.resume)) as progress:
        events.subscribe(progress)
        try:
            if args.resume is not None:
                summary = asyncio.run(resume_run(args.resume, options, events, progress.watch))
            else:
                summary = asyncio.run(train_spec(args.spec, options, events, progress.watch))
        except (OverrideError, FileNotFoundError, ValueError, RunDirectoryError, FormatVersionError) as error:
            raise CommandError(str(error)) from None
        except (OSError, sqlite3.Error) as error:  # disk full, a read-only folder, ...
            raise CommandError(_cannot_write(error, run_dirs)) from None
        except KeyboardInterrupt:
            if not run_dirs:
                raise
            print(f"interrupted; continue from the last checkpoint with: dlngraph train --resume {shlex.quote(run_dirs[0])}",
                  file=sys.stderr)
            return 130
    if args.progress != "json":
        print_summary(summary)
    return 0


def _cannot_write(error: OSError | sqlite3.Error, run_dirs: list[str]) -> str:
    """A failure to write the run (every write is atomic, so its last checkpoint is intact)."""
    if isinstance(error, OSError) and error.filename is not None:
        problem = f"{error.filename}: {error.strerror or error}"
    else:
        problem = f"the run's cache: {error}" if isinstance(error, sqlite3.Error) else str(error)
    if not run_dirs:
        return problem
    return (f"{problem}; the run's last checkpoint is intact: once the disk has space (or the folder is writable)"
            f" continue with: dlngraph train --resume {shlex.quote(run_dirs[0])}")


def print_summary(summary: RunSummary) -> None:
    stopped = STOPPED.get(summary.stopped, summary.stopped)
    print(f"run:        {summary.run_dir}  ({stopped} after {plural(summary.iterations_run, 'iteration')})")
    print(f"dev:        {three_decimals(summary.initial_dev_accuracy)} at start -> {three_decimals(summary.best_dev_accuracy)} best"
          f"{_best_when(summary.best_iteration)}")
    print(f"test:       {three_decimals(summary.test_accuracy)}")
    print(f"cost:       {summary.calls} calls ({requests_sent(summary.requests, summary.retries)}), {summary.cache_hits} cache hits,"
          f" {summary.prompt_tokens + summary.completion_tokens} tokens, {summary.wall_time_s:.1f}s")
    print(f"final spec: {Path(summary.run_dir) / 'final.yaml'}")


def _dry_run(args: argparse.Namespace) -> int:
    path = args.spec if args.spec is not None else args.resume / "spec.yaml"
    try:
        spec = apply_overrides(load_spec(path).spec, args.overrides)
    except OverrideError as error:
        raise CommandError(str(error)) from None
    network = compile_network(spec)
    dev_size = len(dataset_of(spec, path).dev) if spec.data is not None else 0
    calls = calls_per_iteration(network, spec.training, dev_size=dev_size)
    training = spec.training
    print(f"{spec.name}: {plural(training.iterations, 'iteration')}, batch {training.batch_size},"
          f" {plural(training.num_p_samples, 'prompt sample')}, {plural(training.num_h_samples, 'hidden sample')}")
    print(f"{'phase':<12} {'calls/iteration':>16}")
    for phase, count in calls.items():
        note = f"  ({_validation_times(training)})" if phase == "validation" else ""
        print(f"{phase:<12} {count:>16}{note}")
    step_calls = sum(count for phase, count in calls.items() if phase != "validation")
    print(f"{'step total':<12} {step_calls:>16}")
    print(f"dependency depth of one step: {plural(dependency_depth(network, spec.training), 'round')} of latency")
    print(f"whole run: about {step_calls * training.iterations} step calls"
          f" + {calls['validation'] * validation_passes(training)} validation calls (upper bounds; the cache and"
          f" deduplication save some)")
    return 0


def _best_when(steps: int) -> str:
    """When the best prompts were found, in the progress lines' count of iterations."""
    if steps < 0:
        return ""
    return " (the initial prompts)" if steps == 0 else f" (after iteration {steps})"


def _validation_times(training: TrainingSpec) -> str:
    """When dev is evaluated, and how many networks each time (`validate_top`): one pass each."""
    when = "every iteration" if training.val_freq == 1 else f"every {training.val_freq} iterations"
    return when if training.validate_top == 1 else f"{when}, for each of {training.validate_top} networks"


def budget_entry(entry: str) -> tuple[str, int]:
    """`calls=N` or `tokens=N` as a `TrainOptions` field and its value; argparse reports a bad one."""
    kind, _, amount = entry.partition("=")
    if kind not in ("calls", "tokens") or not amount.isdecimal():
        raise argparse.ArgumentTypeError(f"expected calls=N or tokens=N with N a whole number, got {entry!r}")
    return f"max_{kind}", int(amount)
