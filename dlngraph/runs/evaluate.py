"""`dlngraph eval`: accuracy of a spec's prompts on a split, beside the paper's baselines.

The baselines are one classification node with the initial instruction (0-shot: the data's
instruction, else the spec's own prompt of its answering node), and the same with k training
examples in its prompt (k-shot in-context learning), on the model of the spec's answering node,
so every trained result is read against them as in the paper's tables. Which k examples are
shown moves accuracy by many points, so the k-shot row is the mean over several random draws,
reported with its spread; the draws come from a fixed seed of their own (`BASELINE_SEED`), so
reruns, and runs of every training seed, compare with the same draws.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import msgspec

from dlngraph.data import Dataset, Example, few_shot
from dlngraph.dln.evaluate import evaluate
from dlngraph.dln.input_views import input_views
from dlngraph.dln.postprocess import loss_of
from dlngraph.dln.roles import Roles
from dlngraph.dln.run_format import Spent
from dlngraph.dln.rundir import RunDirectory
from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.llm.cache import Cache
from dlngraph.runs.session import SpecSource, dataset_of, open_models, read_spec
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import Demonstration, LMNode

Split = Literal["train", "dev", "test"]

BASELINE_SEED = 0
"""Draws the k-shot baseline's examples, whatever the training seed."""
KSHOT_DRAWS = 5
"""Random draws of k training examples the k-shot baseline averages over, by default."""


class EvalRow(msgspec.Struct, kw_only=True):
    system: str
    """`spec` (the spec's own prompts), `0-shot` or `k-shot` (k written out)."""
    accuracy: float
    """The mean over `draws` when there are several."""
    count: int
    """Examples scored (by each draw)."""
    failed: int
    """Failed examples, over every draw."""
    first_failure: str | None = None
    """What went wrong first, when an example failed (see `Evaluation.first_failure`)."""
    draws: list[float] = msgspec.field(default_factory=list)
    """The k-shot baseline: the accuracy of each random draw of examples (empty otherwise)."""
    calls: int = 0
    """This row's calls, cache hits included."""
    tokens: int = 0
    """This row's prompt and completion tokens."""

    @property
    def all_failed(self) -> bool:
        return self.count > 0 and self.failed == self.count * max(1, len(self.draws))

    @property
    def spread(self) -> Spread | None:
        return Spread.of(self.draws) if len(self.draws) > 1 else None


class Spread(msgspec.Struct, frozen=True, kw_only=True):
    """How far apart the draws of a baseline scored: their range and standard deviation."""

    low: float
    high: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(low=min(values), high=max(values), std=statistics.pstdev(values))

    def describe(self) -> str:
        """`0.720-0.930, std 0.071`."""
        return f"{self.low:.3f}-{self.high:.3f}, std {self.std:.3f}"


class EvalReport(msgspec.Struct, kw_only=True):
    spec: str
    split: str
    rows: list[EvalRow]
    calls: int
    """Calls made, cache hits included."""
    prompt_tokens: int
    completion_tokens: int
    cache_hits: int = 0
    requests: int = 0
    """Requests sent to model servers, retries included."""
    retries: int = 0


async def evaluate_splits(
    source: SpecSource,
    *,
    splits: Sequence[Split],
    baselines: bool | Literal["only"] = False,
    shots: int = 5,
    draws: int = KSHOT_DRAWS,
    base_url: str | None = None,
    api_key_env: str | None = None,
    cache_path: Path | None = None,
    limit: int | None = None,
    base_dir: Path | None = None,
) -> list[EvalReport]:
    """Evaluate the spec at `spec_path` on each of `splits`, and with `baselines` the 0-shot and
    (when `shots` > 0) k-shot baselines too, the latter averaged over `draws` random draws of
    `shots` training examples; `baselines="only"` skips the spec's own prompts.
    One dataset and one model pool serve every split (a local model is loaded once); each
    report counts the calls and tokens of its own split. A run directory's `cache.sqlite` next
    to the spec is used when no cache is given, so evaluating a run's `final.yaml` replays it.
    `source` is a spec file's path or a spec object (relative data paths from `base_dir`)."""
    spec, spec_path = read_spec(source, base_dir)
    dataset = dataset_of(spec, spec_path)
    systems: list[System] = [] if baselines == "only" else [System("spec", [compile_network(spec)])]
    if baselines:
        systems += baseline_systems(spec, dataset, shots=shots, draws=draws)
    beside = RunDirectory(spec_path.parent).cache_path  # a run's final.yaml sits in its run directory
    if cache_path is None and beside.exists():
        cache_path = beside
    cache = Cache(cache_path) if cache_path is not None else Cache.off()
    reports = []
    async with open_models(spec, cache, base_url=base_url, api_key_env=api_key_env) as pool:
        for split in splits:
            examples = getattr(dataset, split)[:limit]
            before = Spent.of(pool.usage())
            rows = [await _score(system, pool, examples, split, spec) for system in systems]  # one at a time: each row's cost is its own
            cost = Spent.of(pool.usage()).minus(before)
            reports.append(EvalReport(
                spec=str(spec_path), split=split, rows=rows, calls=cost.calls, requests=cost.requests, retries=cost.retries, prompt_tokens=cost.prompt_tokens,
                completion_tokens=cost.completion_tokens, cache_hits=cost.cache_hits,
            ))
    return reports


class System(msgspec.Struct, frozen=True):
    """A row of the report: one network, or a baseline's several draws scored as their mean."""

    name: str
    networks: list[CompiledNetwork]
    drawn: bool = False
    """The networks are random draws of one baseline: the row keeps each one's accuracy."""


def baseline_systems(spec: NetworkSpec, dataset: Dataset, *, shots: int, draws: int = KSHOT_DRAWS) -> list[System]:
    """The 0-shot baseline, and with `shots` > 0 the k-shot one over `draws` draws."""
    systems = [System("0-shot", [baseline_network(spec, dataset, [])])]
    if shots > 0:
        networks = [baseline_network(spec, dataset, examples) for examples in kshot_draws(dataset.train, shots, draws)]
        systems.append(System(f"{shots}-shot", networks, drawn=True))
    return systems


def kshot_draws(train: Sequence[Example], shots: int, draws: int) -> list[list[Example]]:
    """`draws` random sets of `shots` training examples, from `BASELINE_SEED`: the first draws
    are the same whatever their number."""
    if draws < 1:
        raise ValueError(f"the k-shot baseline needs at least 1 draw, found {draws}")
    rng = random.Random(BASELINE_SEED)
    return [few_shot(train, shots, rng=rng) for _ in range(draws)]


def baseline_network(spec: NetworkSpec, dataset: Dataset, examples: Sequence[Example]) -> CompiledNetwork:
    """One classification node: the initial instruction, with `examples` as its demonstrations,
    shown by the same template (`classify`) as the demonstrations a trained node learns, so
    the k-shot row is the fair rival of a trained prompt with the same k."""
    answer = _answering_node(compile_network(spec))
    instruction = dataset.instruction if dataset.instruction is not None else answer.prompt
    node = LMNode(id="answer", model=answer.model, template="classify", prompt=instruction, classes=answer.classes,
                  max_tokens=answer.max_tokens, num_demos=len(examples),
                  demonstrations=[Demonstration(input=e.input, output=e.target, source=e.id) for e in examples])
    baseline = msgspec.structs.replace(spec, name=f"{spec.name}-{len(examples)}-shot", nodes=[node], output="answer")
    return compile_network(baseline)


async def _score(system: System, pool, examples: Sequence[Example], split: str, spec: NetworkSpec) -> EvalRow:
    """A system's row: its one network's accuracy, or the mean of its draws with each one's
    (the draws are scored side by side)."""
    before = Spent.of(pool.usage())
    async with asyncio.TaskGroup() as group:
        tasks = [
            group.create_task(evaluate(network, pool, examples, split=split, loss=loss_of(spec.training),
                                       input_views=input_views(network, spec.training)))
            for network in system.networks
        ]
    results = [task.result() for task in tasks]
    accuracies = [result.accuracy for result in results]
    cost = Spent.of(pool.usage()).minus(before)
    return EvalRow(
        system=system.name, accuracy=statistics.fmean(accuracies), count=results[0].count,
        failed=sum(result.failed for result in results),
        first_failure=next((result.first_failure for result in results if result.first_failure), None),
        draws=accuracies if system.drawn else [], calls=cost.calls, tokens=cost.prompt_tokens + cost.completion_tokens,
    )


def _answering_node(network: CompiledNetwork) -> LMNode:
    node = network.node(Roles(network).scored[0])
    assert isinstance(node, LMNode)
    return node
