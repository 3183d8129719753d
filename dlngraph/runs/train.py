"""`dlngraph train`: train a spec's prompts into a run directory, or resume one.

    summary = await train_spec(Path("specs/dln2.yaml"), TrainOptions(overrides=["iterations=2"]))

The run directory holds the resolved spec, so `resume_run(run_dir)` needs nothing else; its
cache replays every call already made, so a resumed run ends where an uninterrupted one would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

from dlngraph.data import Dataset
from dlngraph.dln.run_format import RunSummary, TrainState, decode_checkpoint
from dlngraph.dln.rundir import RESTART_ADVICE, RunDirectory, RunDirectoryError
from dlngraph.dln.trainer import Trainer, TrainOutcome
from dlngraph.engine import EventBus
from dlngraph.graph import compile_network
from dlngraph.llm.budget import Budget
from dlngraph.llm.cache import Cache
from dlngraph.llm.pool import LimiterRegistry
from dlngraph.runs.overrides import apply_overrides
from dlngraph.runs.session import (
    SpecSource,
    dataset_of,
    open_models,
    read_spec,
    with_absolute_data_paths,
    with_base_url,
)
from dlngraph.spec import dump_spec, load_spec
from dlngraph.spec.network import NetworkSpec


class TrainOptions(msgspec.Struct, kw_only=True):
    runs_root: Path = Path("runs")
    overrides: list[str] = msgspec.field(default_factory=list)
    max_calls: int | None = None
    max_tokens: int | None = None
    base_url: str | None = None
    """Point every model at this OpenAI-compatible server instead of the spec's backends; a new
    run records it in its spec.yaml, so resuming it goes to the same server."""
    api_key_env: str | None = None
    """The environment variable holding the `base_url` server's key (its name is recorded)."""
    cache: Literal["readwrite", "readonly", "off"] = "readwrite"
    cache_path: Path | None = None
    """A cache file shared with other runs (the demo's seeds share their identical calls);
    by default the run directory's own cache.sqlite, which `--resume` reads."""
    run_dir: Path | None = None
    """The new run's directory itself (created if missing) instead of a fresh
    `runs_root/<name>-<timestamp>`: a sweep names each of its runs."""


class Shared(msgspec.Struct, kw_only=True):
    """What runs side by side in one process share (a sweep's): one budget for all of them,
    and one limiter per server model, so that together they keep to its limits."""

    budget: Budget | None = None
    limiters: LimiterRegistry = msgspec.field(default_factory=dict)


UsageWatcher = Callable[[Callable[[], dict[str, Any]]], None]
"""Called once the models exist with a probe of their cumulative usage (for live progress)."""


async def train_spec(
    source: SpecSource,
    options: TrainOptions,
    events: EventBus | None = None,
    watch: UsageWatcher | None = None,
    *,
    base_dir: Path | None = None,
    shared: Shared | None = None,
) -> RunSummary:
    """Start a new run of a spec: the path of its YAML file, or a spec object (whose relative
    data paths are read from `base_dir`, by default the current folder)."""
    spec, spec_path = read_spec(source, base_dir)
    spec = apply_overrides(spec, options.overrides)
    spec = with_base_url(with_absolute_data_paths(spec, spec_path.parent), options.base_url, options.api_key_env)
    dataset = dataset_of(spec, spec_path)  # before the run directory: bad data leaves none behind
    if options.run_dir is not None:
        options.run_dir.mkdir(parents=True, exist_ok=True)
        run = RunDirectory(options.run_dir)
    else:
        run = RunDirectory.create(options.runs_root, spec.name)
    with run.locked():
        run.write_spec(dump_spec(spec))
        return await _train(spec, dataset, run, options, None, events, watch, shared)


async def resume_run(
    run_dir: Path,
    options: TrainOptions,
    events: EventBus | None = None,
    watch: UsageWatcher | None = None,
    *,
    shared: Shared | None = None,
) -> RunSummary:
    """Continue the run in `run_dir` from its last checkpoint (a fresh start if it has none).
    A run of a format version this code does not read raises `FormatVersionError` before
    anything in it is touched."""
    run = RunDirectory(run_dir)
    if not run.spec_path.exists():
        raise FileNotFoundError(f"{run_dir}: not a run directory (no spec.yaml)")
    run.refuse_links()
    run.check_format_version()
    with run.locked():
        run.remove_stale_temporaries()
        spec = load_spec(run.spec_path).spec
        state = _read_checkpoint(run)
        if state is not None:
            run.keep_events_through(state.iteration - 1)
        else:
            run.clear_events()
        return await _train(spec, dataset_of(spec, run.spec_path), run, options, state, events, watch, shared)


def _read_checkpoint(run: RunDirectory) -> TrainState | None:
    """checkpoint.json (None without one), or a `RunDirectoryError` saying it is damaged (it is
    written atomically, so only something other than a crash of the trainer damages it)."""
    if not run.checkpoint_path.exists():
        return None
    try:
        return decode_checkpoint(run.checkpoint_path)
    except msgspec.DecodeError as error:  # ValidationError is a DecodeError too
        raise RunDirectoryError(f"{run.checkpoint_path}: not a readable checkpoint ({error}); {RESTART_ADVICE}") from None


async def _train(
    spec: NetworkSpec,
    dataset: Dataset,
    run: RunDirectory,
    options: TrainOptions,
    state: TrainState | None,
    events: EventBus | None,
    watch: UsageWatcher | None,
    shared: Shared | None,
) -> RunSummary:
    started = time.perf_counter()
    events = events or EventBus()
    events.publish("run", run_dir=str(run.path))  # so that an interrupted command can say what to resume
    network = compile_network(spec)
    limited = options.max_calls is not None or options.max_tokens is not None
    budget = Budget(options.max_calls, options.max_tokens) if limited else None
    if shared is not None and shared.budget is not None:
        budget = shared.budget
    cache = Cache(options.cache_path or run.cache_path, options.cache) if options.cache != "off" else Cache.off()
    async with open_models(spec, cache, base_url=options.base_url, api_key_env=options.api_key_env, budget=budget,
                           limiters=None if shared is None else shared.limiters) as pool:
        if watch is not None:
            watch(pool.usage)
        trainer = Trainer(
            network, pool, train=dataset.train, dev=dataset.dev, test=dataset.test,
            labels=dataset.labels, run=run, events=events, usage=pool.usage, session_started=started,
        )
        outcome = await trainer.fit(state)
    final = network.with_prompts(outcome.state.best_prompts).with_demonstrations(outcome.state.best_demonstrations).spec
    run.write_final_spec(dump_spec(final))
    summary = _summary(spec, run, outcome)
    run.write_json(run.summary_path, summary)
    return summary


def _summary(spec: NetworkSpec, run: RunDirectory, outcome: TrainOutcome) -> RunSummary:
    """The run's outcome, and its cost over every session (a resumed run adds to it)."""
    spent = outcome.spent
    return RunSummary(
        name=spec.name,
        run_dir=str(run.path),
        stopped=outcome.stopped,
        iterations_run=outcome.iterations_run,
        initial_dev_accuracy=outcome.initial_dev_accuracy,
        best_dev_accuracy=outcome.best_dev_accuracy,
        best_iteration=outcome.state.best_iteration,
        test_accuracy=None if outcome.test is None else outcome.test.accuracy,
        best_prompts=outcome.state.best_prompts,
        best_demonstrations=outcome.state.best_demonstrations,
        calls=spent.calls,
        requests=spent.requests,
        retries=spent.retries,
        cache_hits=spent.cache_hits,
        prompt_tokens=spent.prompt_tokens,
        completion_tokens=spent.completion_tokens,
        wall_time_s=spent.wall_time_s,
    )
