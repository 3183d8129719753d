"""The main job: DLN-1 and DLN-2 trained over several seeds beside the 0-shot and k-shot baselines.

    result = await run_demo(DemoOptions(specs=[Path("specs/demo/dln1.yaml"), Path("specs/demo/dln2.yaml")]))
    result.systems[1].mean_test

Each spec is trained once per seed (`training.seed`; the data's own seed is fixed, so every
seed sees the same splits). The 0-shot baseline is the initial instruction of the first spec
alone; the k-shot baseline adds k random training examples to it, its test accuracy the mean
over several draws (`runs.evaluate`). The runs share one cache file: the calls they have in
common (the validation of the initial prompts, which asks the same of the model in every seed)
are made once.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import msgspec

from dlngraph.engine import EventBus
from dlngraph.runs.evaluate import KSHOT_DRAWS, Spread, evaluate_splits
from dlngraph.runs.session import read_spec, with_model_file
from dlngraph.runs.train import RunSummary, TrainOptions, UsageWatcher, train_spec
from dlngraph.spec.data import GeneratedData, SplitSizes
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import LMNode

QUICK_SIZES = SplitSizes(train=16, dev=12, test=12)
"""`--quick`: the whole pipeline on a few examples, one seed, one iteration (a smoke test)."""

Watch = Callable[[str], AbstractContextManager[tuple[EventBus, UsageWatcher]]]
"""Given a run's title, a context in which to train it: the events to publish and the usage
watcher (the command line shows live progress through them)."""


class DemoOptions(msgspec.Struct, kw_only=True):
    specs: list[Path]
    seeds: list[int] = msgspec.field(default_factory=lambda: [1, 2, 3])
    runs_root: Path = Path("runs")
    overrides: list[str] = msgspec.field(default_factory=list)
    model_path: Path | None = None
    """Every local model of the specs loads this GGUF file instead of the embedded default."""
    base_url: str | None = None
    api_key_env: str | None = None
    quick: bool = False
    shots: int | None = None
    """Training examples in the k-shot baseline's prompt (0: no k-shot row); None: the first
    spec's `training.num_demos`, the k its trained systems learn (5 when it learns none)."""
    kshot_draws: int = KSHOT_DRAWS


class SystemResult(msgspec.Struct, kw_only=True):
    """One row of the demo's table: a system over every seed it ran with."""

    system: str
    dev: list[float | None]
    """Per seed: the best dev accuracy (0-shot: its dev accuracy, once)."""
    start_dev: list[float | None]
    test: list[float | None]
    calls: int
    tokens: int
    wall_time_s: float
    run_dirs: list[str] = msgspec.field(default_factory=list)
    test_draws: list[float] = msgspec.field(default_factory=list)
    """The k-shot baseline: the test accuracy of each random draw of examples (`test` holds their mean)."""

    @property
    def test_spread(self) -> Spread | None:
        return Spread.of(self.test_draws) if len(self.test_draws) > 1 else None

    @property
    def mean_start_dev(self) -> float | None:
        return _mean(self.start_dev)

    @property
    def mean_dev(self) -> float | None:
        return _mean(self.dev)

    @property
    def mean_test(self) -> float | None:
        return _mean(self.test)


class DemoResult(msgspec.Struct, kw_only=True):
    systems: list[SystemResult]
    seeds: list[int]
    wall_time_s: float


def demo_specs(options: DemoOptions) -> list[NetworkSpec]:
    """The specs as the demo trains them: the model file and `--quick` sizes applied."""
    specs = []
    for path in options.specs:
        spec = with_model_file(read_spec(path)[0], options.model_path)
        if options.quick and isinstance(spec.data, GeneratedData):
            spec = msgspec.structs.replace(spec, data=msgspec.structs.replace(spec.data, sizes=QUICK_SIZES))
        specs.append(spec)
    return specs


async def run_demo(options: DemoOptions, watch: Watch) -> DemoResult:
    started = time.perf_counter()
    specs = demo_specs(options)
    seeds = options.seeds[:1] if options.quick else options.seeds
    overrides = [*options.overrides, "iterations=1"] if options.quick else options.overrides
    cache_path = options.runs_root / "demo-cache.sqlite"
    options.runs_root.mkdir(parents=True, exist_ok=True)
    base_dir = options.specs[0].parent
    systems = [await _zero_shot(specs[0], options, cache_path, base_dir)]
    shots = kshot_size(options, specs[0])
    if shots > 0:
        systems.append(await _k_shot(specs[0], shots, options, cache_path, base_dir))
    for spec, path in zip(specs, options.specs, strict=True):
        summaries = []
        for seed in seeds:
            train_options = TrainOptions(
                runs_root=options.runs_root, overrides=[*overrides, f"seed={seed}"], base_url=options.base_url,
                api_key_env=options.api_key_env, cache_path=cache_path,
            )
            with watch(f"{spec.name} seed {seed}") as (events, usage_watcher):
                summaries.append(await train_spec(spec, train_options, events, usage_watcher, base_dir=path.parent))
        systems.append(_trained(_system_name(spec), summaries))
    return DemoResult(systems=systems, seeds=seeds, wall_time_s=time.perf_counter() - started)


async def _zero_shot(spec: NetworkSpec, options: DemoOptions, cache_path: Path, base_dir: Path) -> SystemResult:
    """The first spec's initial instruction alone on dev and test (the paper's 0-shot row)."""
    started = time.perf_counter()
    dev, test = await evaluate_splits(
        spec, splits=("dev", "test"), baselines="only", shots=0, base_url=options.base_url,
        api_key_env=options.api_key_env, cache_path=cache_path, base_dir=base_dir,
    )
    (zero_dev,), (zero_test,) = dev.rows, test.rows
    return SystemResult(
        system="0-shot", dev=[zero_dev.accuracy], start_dev=[zero_dev.accuracy], test=[zero_test.accuracy],
        calls=dev.calls + test.calls,
        tokens=dev.prompt_tokens + dev.completion_tokens + test.prompt_tokens + test.completion_tokens,
        wall_time_s=time.perf_counter() - started,
    )


def kshot_size(options: DemoOptions, spec: NetworkSpec) -> int:
    """The k of the k-shot row: the one asked for, else the k the trained systems learn, so the
    row is their fair rival."""
    if options.shots is not None:
        return options.shots
    return spec.training.num_demos or 5


async def _k_shot(spec: NetworkSpec, shots: int, options: DemoOptions, cache_path: Path, base_dir: Path) -> SystemResult:
    """The first spec's initial instruction with k random training examples, on test: the mean
    over the draws (the 0-shot row it also scores is replayed from the cache)."""
    started = time.perf_counter()
    (test,) = await evaluate_splits(
        spec, splits=("test",), baselines="only", shots=shots, draws=options.kshot_draws,
        base_url=options.base_url, api_key_env=options.api_key_env, cache_path=cache_path, base_dir=base_dir,
    )
    kshot = test.rows[-1]
    return SystemResult(
        system=kshot.system, dev=[None], start_dev=[None], test=[kshot.accuracy], test_draws=kshot.draws,
        calls=kshot.calls, tokens=kshot.tokens, wall_time_s=time.perf_counter() - started,
    )


def _trained(system: str, summaries: Sequence[RunSummary]) -> SystemResult:
    return SystemResult(
        system=system,
        dev=[summary.best_dev_accuracy for summary in summaries],
        start_dev=[summary.initial_dev_accuracy for summary in summaries],
        test=[summary.test_accuracy for summary in summaries],
        calls=sum(summary.calls for summary in summaries),
        tokens=sum(summary.prompt_tokens + summary.completion_tokens for summary in summaries),
        wall_time_s=sum(summary.wall_time_s for summary in summaries),
        run_dirs=[summary.run_dir for summary in summaries],
    )


def _system_name(spec: NetworkSpec) -> str:
    """"DLN-1", "DLN-2", ...: named by its number of lm nodes (the demo's specs are chains)."""
    depth = sum(1 for node in spec.nodes if isinstance(node, LMNode))
    return f"DLN-{depth}" if depth else spec.name


def _mean(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.fmean(known) if known else None
