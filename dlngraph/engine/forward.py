"""The forward scheduler: every (node, example, sample) is a task that waits for exactly its
parents' results for that example, so an example's second layer starts while other examples'
first layers are still running. No mini-batches and no layer barriers: throttling is the LLM
layer's job (its limits apply back-pressure), not the scheduler's.

Sampling several outputs (`samples=k`) runs k independent ancestral chains per example: chain s
of a node reads chain s of its parents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypedDict, Unpack

import anyio

from dlngraph.engine.events import EventBus
from dlngraph.engine.node_ops import (
    Models,
    evaluate_combiner,
    evaluate_lm,
    source_texts,
)
from dlngraph.engine.results import (
    ForwardResult,
    NodeExecutionError,
    NodeFailure,
    NodeOutput,
)
from dlngraph.engine.waves import raise_first
from dlngraph.graph import CompiledNetwork
from dlngraph.llm.errors import BudgetExceeded, LLMError
from dlngraph.spec.dependencies import parent_ids
from dlngraph.spec.nodes import Demonstration, LMNode


class _Cell:
    """One (node, example, sample) result that dependants wait on: once `done`, its output,
    or None if it failed or was skipped."""

    __slots__ = ("done", "output")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.output: NodeOutput | None = None


class ForwardOptions(TypedDict, total=False):
    """How a forward pass runs, for `ForwardRun` and `run_forward` alike (every key optional).

    - `prompts` (none): overrides node prompts for this pass only (the trainer scores
      candidates this way without mutating the network); `demonstrations` (none) does the
      same for the nodes' demonstrations;
    - `samples` (1), `temperature` (the models' own), `seed` (none): k independent chains per
      example, sampled so;
    - `keep_going` (False): a failed cell marks its dependants as skipped and the pass goes on;
      otherwise the first failure cancels it and is raised as a `NodeExecutionError` naming the
      node and the example. Running out of the run's budget (`BudgetExceeded`) stops the pass
      either way: it is no example's failure;
    - `phase` ("forward") and `priority` (0): go into the calls' tags (accounting, and who goes
      first when the model's slots are all taken);
    - `input_views` (none): maps a node to what it reads of the example's input instead of the
      input itself (the paper's `strip_options_for_hidden`);
    - `events` (none): where a call that showed fewer demonstrations to fit the model's context
      window is published (`demonstrations_left_out`: node, example, sample, left_out).
    """

    prompts: Mapping[str, str] | None
    samples: int
    temperature: float | None
    seed: int | None
    keep_going: bool
    phase: str
    priority: int
    input_views: Mapping[str, Callable[[str], str]] | None
    demonstrations: Mapping[str, Sequence[Demonstration]] | None
    events: EventBus | None


async def run_forward(
    network: CompiledNetwork, models: Models, inputs: Sequence[str], **options: Unpack[ForwardOptions]
) -> ForwardResult:
    """Run `network` over `inputs` (see `ForwardOptions`) and wait for the whole result."""
    return await ForwardRun(network, models, inputs, **options).execute()


class ForwardRun:
    """A forward pass that others may read while it runs: `execute()` runs it, while
    `finished_output(node, example)` waits for one cell, so a training step can start on each
    hidden output while the rest still runs, and `distribution_for(node, rendered)` hands
    back a class distribution already computed for that exact prompt."""

    def __init__(
        self, network: CompiledNetwork, models: Models, inputs: Sequence[str], **options: Unpack[ForwardOptions]
    ) -> None:
        unknown = sorted(set(options) - ForwardOptions.__optional_keys__)
        if unknown:
            raise TypeError(f"unknown forward options {', '.join(unknown)}; known: {', '.join(ForwardOptions.__annotations__)}")
        self.network = network
        self.models = models
        self.inputs = list(inputs)
        self.input_views = dict(options.get("input_views") or {})
        self.prompts = {**network.prompts(), **(options.get("prompts") or {})}
        self.demonstrations = {**network.demonstrations(), **(options.get("demonstrations") or {})}
        self.events = options.get("events")
        self.samples = options.get("samples", 1)
        self.temperature = options.get("temperature")
        self.seed = options.get("seed")
        self.keep_going = options.get("keep_going", False)
        self.phase = options.get("phase", "forward")
        self.priority = options.get("priority", 0)
        self.nodes = [node for node in network.topological_order if node in network.required_by_output]
        self.cells = {
            (node, example, sample): _Cell()
            for node in self.nodes
            for example in range(len(self.inputs))
            for sample in range(self.samples)
        }
        self.failures: list[NodeFailure] = []
        self._distributions: dict[tuple[str, str], dict[str, float]] = {}

    def input_of(self, node_id: str, example: int) -> str:
        """The example's input as `node_id` reads it (see `input_views`)."""
        view = self.input_views.get(node_id)
        text = self.inputs[example]
        return text if view is None else view(text)

    def output(self, node_id: str, example: int, sample: int = 0) -> NodeOutput | None:
        """The cell's output; None while it runs, or if it failed or was skipped."""
        return self.cells[node_id, example, sample].output

    async def finished_output(self, node_id: str, example: int, sample: int = 0) -> NodeOutput | None:
        """Wait for one cell; its output, or None if it failed or was skipped."""
        cell = self.cells[node_id, example, sample]
        await cell.done.wait()
        return cell.output

    def outputs_of(self, example: int, sample: int = 0) -> Mapping[str, NodeOutput]:
        """A live view of one example's finished outputs by node: nothing is copied, so a
        caller that renders thousands of prompts reads the cells directly."""
        return _ExampleOutputs(self, example, sample)

    def distribution_for(self, node_id: str, rendered: str) -> dict[str, float] | None:
        """The class distribution of a finished cell of `node_id` whose prompt was exactly
        `rendered`, or None: a training step scores the current prompts on the forward hidden
        states, which the forward pass has already done."""
        return self._distributions.get((node_id, rendered))

    async def execute(self) -> ForwardResult:
        try:
            async with anyio.create_task_group() as group:
                for node, example, sample in self.cells:
                    group.start_soon(self._run_cell, node, example, sample)
        except BaseExceptionGroup as errors:
            raise_first(errors)
        return ForwardResult(
            output_node=self.network.output,
            outputs={
                node: [
                    [self.cells[node, example, sample].output for sample in range(self.samples)]
                    for example in range(len(self.inputs))
                ]
                for node in self.nodes
            },
            failures=sorted(self.failures, key=lambda f: (f.example, f.sample, f.node)),
        )

    async def _run_cell(self, node_id: str, example: int, sample: int) -> None:
        cell = self.cells[node_id, example, sample]
        try:
            parents = await self._parent_outputs(node_id, example, sample)
            if parents is None:
                self.failures.append(
                    NodeFailure(node=node_id, example=example, sample=sample, error="a parent failed", skipped=True)
                )
                return
            cell.output = output = await self._evaluate(node_id, example, sample, parents)
            if output.probs is not None and output.rendered:  # a vote's mean has no prompt
                self._distributions[node_id, output.rendered] = output.probs
            if output.demonstrations_left_out and self.events is not None:
                self.events.publish("demonstrations_left_out", node=node_id, example=example, sample=sample,
                                    left_out=output.demonstrations_left_out, phase=self.phase)
        except BudgetExceeded:
            raise  # the run's budget, not this example's failure: the whole pass stops
        except Exception as error:
            if not self.keep_going:
                raise NodeExecutionError(node_id, example, sample, error) from error
            self.failures.append(NodeFailure(node=node_id, example=example, sample=sample, error=_described(error)))
        finally:
            cell.done.set()

    async def _parent_outputs(self, node_id: str, example: int, sample: int) -> dict[str, NodeOutput] | None:
        """Wait for every parent of this cell; None when one of them failed."""
        outputs: dict[str, NodeOutput] = {}
        for source in parent_ids(self.network.node(node_id)):
            parent = self.cells[source, example, sample]
            await parent.done.wait()
            if parent.output is None:
                return None
            outputs[source] = parent.output
        return outputs

    async def _evaluate(self, node_id: str, example: int, sample: int, parents: dict[str, NodeOutput]) -> NodeOutput:
        node = self.network.node(node_id)
        if isinstance(node, LMNode):
            text_of = source_texts(list(parents), self.input_of(node_id, example), parents)
            return await evaluate_lm(
                self.network,
                self.models,
                node,
                self.prompts[node_id],
                text_of,
                temperature=self.temperature,
                sample=sample,
                seed=self.seed,
                phase=self.phase,
                priority=self.priority,
                demonstrations=self.demonstrations.get(node_id, ()),
            )
        return evaluate_combiner(self.network, node, self.inputs[example], parents)


def _described(error: Exception) -> str:
    """An LLM layer's error says what happened in its own words; any other is a bug somewhere,
    so its type is kept (`KeyError: 'x'` rather than a bare `'x'`)."""
    return str(error) if isinstance(error, LLMError) else f"{type(error).__name__}: {error}"


class _ExampleOutputs(Mapping[str, NodeOutput]):
    """`ForwardRun.outputs_of`: the nodes of one (example, sample) that have an output."""

    __slots__ = ("_example", "_run", "_sample")

    def __init__(self, run: ForwardRun, example: int, sample: int) -> None:
        self._run, self._example, self._sample = run, example, sample

    def __getitem__(self, node_id: str) -> NodeOutput:
        cell = self._run.cells.get((node_id, self._example, self._sample))
        if cell is None or cell.output is None:
            raise KeyError(node_id)
        return cell.output

    def __iter__(self) -> Iterator[str]:
        return (node for node in self._run.nodes if self._run.output(node, self._example, self._sample) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)
