"""dlngraph: Deep Language Networks as YAML graphs, trained with variational inference.

What a program needs, in one namespace (`import dlngraph` or `from dlngraph import ...`):

    import asyncio
    import dlngraph

    spec = dlngraph.load_spec("specs/dln2.yaml").spec
    summary = asyncio.run(dlngraph.train_spec(spec, dlngraph.TrainOptions(overrides=["iterations=2"])))

A network in code, the spec's Structs (each field is the YAML field of the same name):
`NetworkSpec` the whole spec; its `nodes` are `LMNode` (an LLM call with a trainable prompt),
`VoteNode` (majority or mean over class distributions) and `ConcatNode` (texts joined without a
call); `ModelSpec` a model, with its `Sampling` and server `Limits`; `TrainingSpec` the
`training:` section; `GeneratedData`, `PresetData` and `FileData` the `data:` section, with
`SplitSizes`.

A spec as YAML: `load_spec` reads and checks a file, `load_spec_text` a string (both return an
object whose `.spec` is the `NetworkSpec`), `dump_spec` writes one back as YAML text.
`compile_network` checks a spec as a whole and gives the `CompiledNetwork` that runs.

Data and models: `load_dataset` turns a spec's `data` into a `Dataset` of `Example`s; a
`ModelPool` holds a spec's models by name: `ModelPool.from_specs(spec.models, base_url=None)`
opens them (every one pointed at an OpenAI-compatible server when `base_url` is given), and
`async with` closes them.

Running: `run_forward` one forward pass over a batch of inputs, a `ForwardResult`;
`train_spec` trains a spec (a `NetworkSpec` or a YAML file's path) with `TrainOptions` into a
run directory and returns its `RunSummary`; `resume_run` continues one from its checkpoint;
`evaluate_splits` scores a spec on its splits, beside 0-shot and k-shot baselines, as
`EvalReport`s. `tune_gc` collects the garbage collector's youngest generation less often, as
the commands do, for a program that keeps hundreds of calls in flight.

Errors a user can act on, each with a message naming the file, field or node: `SpecError` (a
spec), `DataError` (its data), `OverrideError` (a `TrainOptions.overrides` entry),
`MetricError` (a Python metric), `LLMError` (a model that cannot be reached or asked),
`NodeExecutionError` (a failed node in `run_forward`), `TrainingError` (a network that cannot be
trained as configured) and `RunDirectoryError` (a run directory that cannot be used).

`import dlngraph` itself is cheap: each name is imported from its home module the first time it
is used, so the command line, the scripted server and a program that only builds specs do not
load the HTTP client or the training loop until they need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOMES: dict[str, str] = {
    "NetworkSpec": "dlngraph.spec.network",
    "LMNode": "dlngraph.spec.nodes",
    "VoteNode": "dlngraph.spec.nodes",
    "ConcatNode": "dlngraph.spec.nodes",
    "ModelSpec": "dlngraph.spec.models",
    "Sampling": "dlngraph.spec.models",
    "Limits": "dlngraph.spec.models",
    "TrainingSpec": "dlngraph.spec.training",
    "GeneratedData": "dlngraph.spec.data",
    "PresetData": "dlngraph.spec.data",
    "FileData": "dlngraph.spec.data",
    "SplitSizes": "dlngraph.spec.data",
    "load_spec": "dlngraph.spec.loader",
    "load_spec_text": "dlngraph.spec.loader",
    "dump_spec": "dlngraph.spec.dump",
    "compile_network": "dlngraph.graph.compiled",
    "CompiledNetwork": "dlngraph.graph.compiled",
    "load_dataset": "dlngraph.data.load",
    "Dataset": "dlngraph.data.types",
    "Example": "dlngraph.data.types",
    "ModelPool": "dlngraph.llm.pool",
    "run_forward": "dlngraph.engine.forward",
    "ForwardResult": "dlngraph.engine.results",
    "train_spec": "dlngraph.runs.train",
    "resume_run": "dlngraph.runs.train",
    "TrainOptions": "dlngraph.runs.train",
    "RunSummary": "dlngraph.runs.train",
    "evaluate_splits": "dlngraph.runs.evaluate",
    "EvalReport": "dlngraph.runs.evaluate",
    "tune_gc": "dlngraph.runs.gc_tuning",
    "SpecError": "dlngraph.spec.errors",
    "DataError": "dlngraph.data.errors",
    "OverrideError": "dlngraph.runs.overrides",
    "MetricError": "dlngraph.spec.metrics",
    "LLMError": "dlngraph.llm.errors",
    "NodeExecutionError": "dlngraph.engine.results",
    "TrainingError": "dlngraph.dln.roles",
    "RunDirectoryError": "dlngraph.dln.rundir",
}
"""Each public name and the module it lives in (the same imports, for type checkers, below)."""

__all__ = [
    "CompiledNetwork",
    "ConcatNode",
    "DataError",
    "Dataset",
    "EvalReport",
    "Example",
    "FileData",
    "ForwardResult",
    "GeneratedData",
    "LLMError",
    "LMNode",
    "Limits",
    "MetricError",
    "ModelPool",
    "ModelSpec",
    "NetworkSpec",
    "NodeExecutionError",
    "OverrideError",
    "PresetData",
    "RunDirectoryError",
    "RunSummary",
    "Sampling",
    "SpecError",
    "SplitSizes",
    "TrainOptions",
    "TrainingError",
    "TrainingSpec",
    "VoteNode",
    "__version__",
    "compile_network",
    "dump_spec",
    "evaluate_splits",
    "load_dataset",
    "load_spec",
    "load_spec_text",
    "resume_run",
    "run_forward",
    "train_spec",
    "tune_gc",
]

if TYPE_CHECKING:
    from dlngraph.data.errors import DataError
    from dlngraph.data.load import load_dataset
    from dlngraph.data.types import Dataset, Example
    from dlngraph.dln.roles import TrainingError
    from dlngraph.dln.rundir import RunDirectoryError
    from dlngraph.engine.forward import run_forward
    from dlngraph.engine.results import ForwardResult, NodeExecutionError
    from dlngraph.graph.compiled import CompiledNetwork, compile_network
    from dlngraph.llm.errors import LLMError
    from dlngraph.llm.pool import ModelPool
    from dlngraph.runs.evaluate import EvalReport, evaluate_splits
    from dlngraph.runs.gc_tuning import tune_gc
    from dlngraph.runs.overrides import OverrideError
    from dlngraph.runs.train import RunSummary, TrainOptions, resume_run, train_spec
    from dlngraph.spec.data import FileData, GeneratedData, PresetData, SplitSizes
    from dlngraph.spec.dump import dump_spec
    from dlngraph.spec.errors import SpecError
    from dlngraph.spec.loader import load_spec, load_spec_text
    from dlngraph.spec.metrics import MetricError
    from dlngraph.spec.models import Limits, ModelSpec, Sampling
    from dlngraph.spec.network import NetworkSpec
    from dlngraph.spec.nodes import ConcatNode, LMNode, VoteNode
    from dlngraph.spec.training import TrainingSpec


def __getattr__(name: str) -> Any:
    """A public name, imported from its home module on first use and kept here after."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'dlngraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
