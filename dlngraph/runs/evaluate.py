"""`dlngraph eval`: accuracy of a spec's prompts on a split, beside the paper's baselines.

The baselines are one classification node with the dataset's initial instruction (0-shot), and
the same with k training examples in its prompt (k-shot in-context learning), on the model of
the spec's output node, so every trained result is read against them as in the paper's tables.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import msgspec

from dlngraph.data import Dataset, few_shot
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
from dlngraph.spec.nodes import LMNode

Split = Literal["train", "dev", "test"]


class EvalRow(msgspec.Struct, kw_only=True):
    system: str
    """`spec` (the spec's own prompts), `0-shot` or `k-shot` (k written out)."""
    accuracy: float
    count: int
    failed: int
    first_failure: str | None = None
    """What went wrong first, when an example failed (see `Evaluation.first_failure`)."""


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
    base_url: str | None = None,
    api_key_env: str | None = None,
    cache_path: Path | None = None,
    limit: int | None = None,
    base_dir: Path | None = None,
) -> list[EvalReport]:
    """Evaluate the spec at `spec_path` on each of `splits`, and with `baselines` the 0-shot and
    (when `shots` > 0) k-shot baselines too; `baselines="only"` skips the spec's own prompts.
    One dataset and one model pool serve every split (a local model is loaded once); each
    report counts the calls and tokens of its own split. A run directory's `cache.sqlite` next
    to the spec is used when no cache is given, so evaluating a run's `final.yaml` replays it.
    `source` is a spec file's path or a spec object (relative data paths from `base_dir`)."""
    spec, spec_path = read_spec(source, base_dir)
    dataset = dataset_of(spec, spec_path)
    systems = [] if baselines == "only" else [("spec", compile_network(spec))]
    if baselines:
        systems.append(("0-shot", baseline_network(spec, dataset, 0)))
        if shots > 0:
            systems.append((f"{shots}-shot", baseline_network(spec, dataset, shots)))
    beside = RunDirectory(spec_path.parent).cache_path  # a run's final.yaml sits in its run directory
    if cache_path is None and beside.exists():
        cache_path = beside
    cache = Cache(cache_path) if cache_path is not None else Cache.off()
    reports = []
    async with open_models(spec, cache, base_url=base_url, api_key_env=api_key_env) as pool:
        for split in splits:
            examples = getattr(dataset, split)[:limit]
            before = Spent.of(pool.usage())
            rows = []
            for name, network in systems:
                result = await evaluate(network, pool, examples, split=split, loss=loss_of(spec.training),
                                        input_views=input_views(network, spec.training))
                rows.append(EvalRow(
                    system=name, accuracy=result.accuracy, count=result.count, failed=result.failed,
                    first_failure=result.first_failure,
                ))
            cost = Spent.of(pool.usage()).minus(before)
            reports.append(EvalReport(
                spec=str(spec_path), split=split, rows=rows, calls=cost.calls, requests=cost.requests, retries=cost.retries, prompt_tokens=cost.prompt_tokens,
                completion_tokens=cost.completion_tokens, cache_hits=cost.cache_hits,
            ))
    return reports


def baseline_network(spec: NetworkSpec, dataset: Dataset, shots: int) -> CompiledNetwork:
    """One classification node: the initial instruction, then `shots` solved training examples."""
    answer = _answering_node(compile_network(spec))
    prompt = dataset.instruction
    if shots:
        examples = few_shot(dataset.train, shots, rng=random.Random(spec.training.seed))
        prompt += "\n\n" + "\n\n".join(f"{example.input}\nAnswer: {example.target}" for example in examples)
    node = LMNode(id="answer", model=answer.model, template="classify", prompt=prompt, classes=answer.classes,
                  max_tokens=answer.max_tokens)
    baseline = msgspec.structs.replace(spec, name=f"{spec.name}-{shots}-shot", nodes=[node], output="answer")
    return compile_network(baseline)


def _answering_node(network: CompiledNetwork) -> LMNode:
    node = network.node(Roles(network).scored[0])
    assert isinstance(node, LMNode)
    return node
