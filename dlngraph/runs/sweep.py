"""`dlngraph sweep`: every run of a sweep file, several at once in one process, ranked.

    result = await run_sweep(load_sweep(Path("sweep.yaml")), SweepOptions(out=Path("sweeps/nav")))

Each run is a normal run directory, `OUT/<run id>/`, so `dlngraph train --resume`, `report` and
`compare` work on it as on any other. What the runs share, in one process:

- one cache file, `OUT/cache.sqlite`: every sampled request carries a seed derived from its
  run's seed and settings, so two runs share a cached result only when they would have asked
  the same question of the same model (the runs of one seed share their start's validation);
- one limiter per server model (`Shared.limiters`): together the runs keep to its concurrency
  and rates, as the models of one run do;
- one budget (`--budget`), for the whole sweep's session.

Each run has its own backends (connection pools), so closing one run never cuts another's
calls. Re-running a sweep skips the runs that finished (summary.json, not stopped by the
budget) and resumes the others from their checkpoints. `OUT/sweep.json` says, after every run,
which runs finished, failed or wait, and ranks the finished ones by the sweep's metric.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec

from dlngraph.dln.plan import calls_per_run
from dlngraph.dln.run_format import decode_summary
from dlngraph.dln.rundir import RunDirectory, atomic_write
from dlngraph.graph import compile_network
from dlngraph.llm.budget import Budget
from dlngraph.runs.overrides import apply_overrides
from dlngraph.runs.session import dataset_of
from dlngraph.runs.sweep_file import Metric, Sweep, SweepRun
from dlngraph.runs.train import RunSummary, Shared, TrainOptions, resume_run, train_spec

SWEEP_FILE = "sweep.json"
CACHE_FILE = "cache.sqlite"

Status = Literal["finished", "failed", "stopped", "waiting", "running"]
"""`stopped`: by the budget, resumable; `waiting`: not started (or interrupted) yet."""


class SweepOptions(msgspec.Struct, kw_only=True):
    out: Path
    max_parallel: int = 2
    base_url: str | None = None
    api_key_env: str | None = None
    max_calls: int | None = None
    """The whole sweep's budget for this session (every run draws on it)."""
    max_tokens: int | None = None


class RunRecord(msgspec.Struct, kw_only=True):
    """One run of the sweep as sweep.json shows it."""

    id: str
    overrides: list[str]
    status: Status = "waiting"
    error: str | None = None
    summary: RunSummary | None = None


class SweepResult(msgspec.Struct, kw_only=True):
    """sweep.json: the sweep's runs in the file's order, and the finished ones' ids best first."""

    sweep: str
    spec: str
    metric: Metric
    runs: list[RunRecord]
    ranking: list[str]


class PlannedRun(msgspec.Struct, kw_only=True):
    run: SweepRun
    state: Literal["new", "resume", "finished"]
    expected_calls: int


Finished = Callable[[RunRecord], None]
"""Told of each run as it finishes or fails (the command line prints a line)."""


def plan_sweep(sweep: Sweep, out: Path) -> list[PlannedRun]:
    """What `run_sweep` would do with each run, and the calls a whole run is expected to make
    (as `dlngraph train --dry-run` counts them)."""
    planned = []
    for run in sweep.runs:
        spec = apply_overrides(sweep.spec, run.overrides)
        dev_size = len(dataset_of(spec, sweep.spec_path).dev)
        calls = calls_per_run(compile_network(spec), spec.training, dev_size=dev_size)
        planned.append(PlannedRun(run=run, state=_state(out / run.id), expected_calls=calls))
    return planned


async def run_sweep(sweep: Sweep, options: SweepOptions, finished: Finished | None = None) -> SweepResult:
    """Train (or resume) every run not finished yet, `max_parallel` at once; a run that fails is
    recorded with its error and the others go on. sweep.json is rewritten after every run, and
    also when the sweep is interrupted."""
    records, todo = pending_records(sweep, options.out)
    limited = options.max_calls is not None or options.max_tokens is not None
    shared = Shared(budget=Budget(options.max_calls, options.max_tokens) if limited else None)
    slots = asyncio.Semaphore(options.max_parallel)

    async def one(run: SweepRun, record: RunRecord) -> None:
        async with slots:
            if shared.budget is not None and shared.budget.exhausted():
                return  # waits for the next session
            record.status = "running"
            try:
                outcome: RunSummary | BaseException = await train_one(sweep, run, options, shared)
            except Exception as error:  # noqa: BLE001 - one run's failure is its own
                outcome = error
            record_end(sweep, options.out, records, record, outcome, finished)

    try:
        async with asyncio.TaskGroup() as group:
            for run, record in todo:
                group.create_task(one(run, record))
    finally:
        for record in records:
            if record.status == "running":
                record.status = "waiting"  # interrupted: its checkpoint resumes it
        result = write_result(sweep, options.out, records)
    return result


def record_end(
    sweep: Sweep, out: Path, records: list[RunRecord], record: RunRecord, outcome: RunSummary | BaseException,
    finished: Finished | None,
) -> None:
    """A run has ended with its summary, or failed with an error: say so in sweep.json, and tell."""
    if isinstance(outcome, BaseException):
        record.status, record.error = "failed", f"{type(outcome).__name__}: {outcome}"
    else:
        record.status = "stopped" if outcome.stopped == "budget" else "finished"
        record.summary, record.error = outcome, None
    write_result(sweep, out, records)
    if finished is not None:
        finished(record)


def pending_records(sweep: Sweep, out: Path) -> tuple[list[RunRecord], list[tuple[SweepRun, RunRecord]]]:
    """Every run's record as its folder says, and the runs still to train (or resume)."""
    out.mkdir(parents=True, exist_ok=True)
    records = [_record_of(run, out / run.id) for run in sweep.runs]
    return records, [(run, record) for run, record in zip(sweep.runs, records, strict=True) if record.status != "finished"]


def sweep_run_dirs(folder: Path) -> list[Path] | None:
    """The run directories of the sweep in `folder` that have started, in ranking order then
    the file's; None if `folder` holds no sweep.json."""
    path = Path(folder) / SWEEP_FILE
    if not path.is_file():
        return None
    result = msgspec.json.decode(path.read_bytes(), type=SweepResult)
    order = result.ranking + [record.id for record in result.runs if record.id not in result.ranking]
    return [Path(folder) / run_id for run_id in order if (Path(folder) / run_id / "spec.yaml").exists()]


def ranked(records: list[RunRecord], metric: Metric) -> list[RunRecord]:
    """The runs with a value of `metric`, best (highest) first; ties keep the file's order."""
    scored = [record for record in records if record.summary is not None and getattr(record.summary, metric) is not None]
    return sorted(scored, key=lambda record: -getattr(record.summary, metric))


async def train_one(sweep: Sweep, run: SweepRun, options: SweepOptions, shared: Shared) -> RunSummary:
    run_dir = options.out / run.id
    train_options = TrainOptions(
        run_dir=run_dir, overrides=run.overrides, base_url=options.base_url, api_key_env=options.api_key_env,
        cache_path=options.out / CACHE_FILE,
    )
    if _state(run_dir) == "resume":
        return await resume_run(run_dir, msgspec.structs.replace(train_options, overrides=[]), shared=shared)
    return await train_spec(sweep.spec_path, train_options, shared=shared)


def _state(run_dir: Path) -> Literal["new", "resume", "finished"]:
    run = RunDirectory(run_dir)
    if run.summary_path.exists():
        summary = decode_summary(run.summary_path)
        return "resume" if summary.stopped == "budget" else "finished"
    return "resume" if run.spec_path.exists() else "new"


def _record_of(run: SweepRun, run_dir: Path) -> RunRecord:
    record = RunRecord(id=run.id, overrides=run.overrides)
    summary_path = RunDirectory(run_dir).summary_path
    if summary_path.exists():
        record.summary = decode_summary(summary_path)
        record.status = "stopped" if record.summary.stopped == "budget" else "finished"
    return record


def write_result(sweep: Sweep, out: Path, records: list[RunRecord]) -> SweepResult:
    result = SweepResult(
        sweep=str(sweep.path), spec=str(sweep.spec_path), metric=sweep.metric, runs=records,
        ranking=[record.id for record in ranked(records, sweep.metric)],
    )
    atomic_write(out / SWEEP_FILE, msgspec.json.format(msgspec.json.encode(result), indent=2) + b"\n")
    return result
