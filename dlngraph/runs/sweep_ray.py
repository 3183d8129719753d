"""`dlngraph sweep --ray [ADDRESS]`: each run of a sweep as one Ray task.

    result = run_sweep_on_ray(sweep, SweepOptions(out=Path("/shared/sweeps/nav")), RayOptions(address="auto"))

The driver connects to the cluster at `address` (`ray.init(address=...)`), or starts a local
Ray when there is none, and submits one task per run not finished yet, each declaring
`cpus_per_run` CPUs, so Ray runs as many at once as the cluster has room for. A task trains its
run exactly as `dlngraph train` would (its own models, cache reads from `OUT/cache.sqlite`) and
returns the run's summary; a task that fails is recorded with its error and the others go on.
The workers read the sweep file and the spec, and write the run directories, where the driver
names them. The runs' models share the cluster's limiters: one `SlotTable` actor per server
model and limits (`dlngraph.llm.cluster.limits`), so runs on many nodes keep together to a
server's concurrency, requests/min and tokens/min. The sweep's `--budget` is one `BudgetLedger`
actor (`dlngraph.llm.cluster.budget`) that every run draws on in grants; once it is spent, a
run stops as it would in one process (stopped=budget, resumed by the next session) and the
runs not started yet wait for the next session. On a cluster, `OUT`, the sweep file and the spec's data must be on a filesystem
every node mounts at the same path (NFS, a cluster volume). sweep.json is the driver's, rewritten
as each task ends, so skipping and resuming work as they do locally.

Ray is an optional extra (`pip install 'dlngraph[ray]'`), imported only here.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import msgspec

from dlngraph.llm.cluster.budget import ClusterBudget, cluster_budget_ledger
from dlngraph.llm.cluster.limits import ClusterLimiter, ClusterSlots, cluster_slot_table
from dlngraph.llm.pool import LimiterRegistry, limiter_key
from dlngraph.runs.overrides import apply_overrides
from dlngraph.runs.session import with_base_url
from dlngraph.runs.sweep import (
    Finished,
    SweepOptions,
    SweepResult,
    pending_records,
    record_end,
    train_one,
    write_result,
)
from dlngraph.runs.sweep_file import Sweep, SweepRun, load_sweep
from dlngraph.runs.train import RunSummary, Shared


class RayOptions(msgspec.Struct, kw_only=True):
    address: str | None = None
    """A running cluster (`auto`, `ray://head:10001`, ...), or None for a local Ray."""
    cpus_per_run: float = 1.0
    """The CPUs each run's task declares (a run is one process driving its HTTP calls)."""
    local_cpus: int | None = None
    """The CPUs of a local Ray (None: the machine's)."""


def run_sweep_on_ray(sweep: Sweep, options: SweepOptions, ray_options: RayOptions, finished: Finished | None = None) -> SweepResult:
    """Every unfinished run as a Ray task; sweep.json after each (also when interrupted)."""
    import ray

    options = msgspec.structs.replace(options, out=options.out.resolve())  # the same on every node
    records, todo = pending_records(sweep, options.out)
    started_here = not ray.is_initialized()
    if started_here:
        local = {} if ray_options.address is not None else {"num_cpus": ray_options.local_cpus, "include_dashboard": False}
        ray.init(address=ray_options.address, log_to_driver=False, **local)
    task = ray.remote(num_cpus=ray_options.cpus_per_run, max_retries=0)(train_in_worker)
    tables = _limit_tables(sweep, options, [run for run, _ in todo])
    ledger = _budget_ledger(options)
    waiting = {task.remote(str(sweep.path.resolve()), run.id, options, tables, ledger): record for run, record in todo}
    try:
        for record in waiting.values():
            record.status = "running"
        while waiting:
            (done,), _ = ray.wait(list(waiting), num_returns=1)
            record = waiting.pop(done)
            try:
                summary = ray.get(done)
                if summary is None:  # the budget was spent before the run started
                    record.status = "waiting"
                    continue
                outcome: RunSummary | BaseException = msgspec.convert(summary, RunSummary)
            except ray.exceptions.RayError as error:
                outcome = getattr(error, "cause", None) or error  # the run's own exception
            record_end(sweep, options.out, records, record, outcome, finished)
    finally:
        for ref, record in waiting.items():
            ray.cancel(ref, force=True)
            record.status = "waiting"
        result = write_result(sweep, options.out, records)
        for actor in [*tables.values(), *([ledger] if ledger is not None else [])]:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
    return result


def train_in_worker(
    sweep_path: str, run_id: str, options: SweepOptions, tables: dict[tuple[Any, ...], Any], ledger: Any | None,
) -> dict[str, Any] | None:
    """The body of a run's task: read the sweep file, train (or resume) that run with the
    cluster's limiters and budget, return its summary as plain data (what crosses the
    cluster); None when the sweep's budget was spent before the run could start."""
    import ray

    if ledger is not None and ray.get(ledger.exhausted.remote()):
        return None
    sweep = load_sweep(Path(sweep_path))
    (run,) = [run for run in sweep.runs if run.id == run_id]
    holder = f"{socket.gethostname()}:{os.getpid()}:{run_id}"
    limiters: LimiterRegistry = {
        key: ClusterLimiter(key[1], ClusterSlots.of_actor(table, holder=holder)) for key, table in tables.items()
    }
    budget = None if ledger is None else ClusterBudget.of_actor(ledger, counts_tokens=options.max_tokens is not None)
    try:
        return msgspec.to_builtins(asyncio.run(train_one(sweep, run, options, Shared(budget=budget, limiters=limiters))))
    finally:
        if budget is not None and (given_back := budget.close()) is not None:
            ray.get(given_back)  # before this worker's next run asks the ledger


def _budget_ledger(options: SweepOptions) -> Any | None:
    """The sweep's budget as one actor owned by the driver, or None when it has none."""
    if options.max_calls is None and options.max_tokens is None:
        return None
    return cluster_budget_ledger(f"dlngraph-budget-{uuid.uuid4().hex}", options.max_calls, options.max_tokens)


def _limit_tables(sweep: Sweep, options: SweepOptions, runs: list[SweepRun]) -> dict[tuple[Any, ...], Any]:
    """One `SlotTable` actor per server model and limits that the runs use, owned by the
    driver (an actor lives as long as its owner), so every run on every node shares them."""
    tables: dict[tuple[Any, ...], Any] = {}
    for run in runs:
        spec = with_base_url(apply_overrides(sweep.spec, run.overrides), options.base_url, options.api_key_env)
        for model in spec.models.values():
            key = limiter_key(model)
            if key not in tables:
                limits = model.limits
                tables[key] = cluster_slot_table(
                    f"dlngraph-limits-{uuid.uuid4().hex}", limits.max_concurrency,
                    requests_per_minute=limits.requests_per_minute, tokens_per_minute=limits.tokens_per_minute,
                )
    return tables

