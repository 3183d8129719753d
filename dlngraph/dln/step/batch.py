"""The step's batch after its forward pass (stage 1 of docs/TRAINING.md): which examples it
keeps, their losses, which are shown to the proposals and which rank the candidates, and what
each node read and wrote on each example.

Every per-example structure of a step is indexed the same way: by the example's position in
the batch (`ExampleIndex`). The examples kept, shown and ranked are lists of those indices.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dlngraph.data.types import LabeledExample
from dlngraph.dln.postprocess import example_loss, loss_of
from dlngraph.dln.roles import TrainingError
from dlngraph.dln.texts import texts_for
from dlngraph.engine import ForwardResult, ForwardRun, NodeOutput
from dlngraph.engine.node_ops import render_lm
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import Demonstration, LMNode
from dlngraph.spec.training import TrainingSpec

ExampleIndex = int
"""An example's position in the step's batch."""


@dataclass(frozen=True)
class SettledForward:
    """What the whole forward pass settles; `TrainingStep.forward_done()` returns it."""

    failed: list[ExampleIndex]
    kept: list[ExampleIndex]
    """The examples the whole forward pass succeeded on, in batch order."""
    losses: dict[ExampleIndex, float]
    """The loss of each kept example."""
    shown: list[ExampleIndex]
    """The kept examples shown to the proposals."""
    ranked: list[ExampleIndex]
    """The kept examples candidates are ranked on (with held-out ranking, the other half)."""


def settle_forward(
    forward: ForwardResult, batch: Sequence[LabeledExample], training: TrainingSpec, rng: random.Random
) -> SettledForward:
    """The examples kept and their losses; an error if every example failed."""
    failed = forward.failed_examples
    kept = [example for example in range(len(batch)) if example not in set(failed)]
    if not kept:
        cause = forward.first_cause()
        raise TrainingError(
            "every example of the batch failed in the forward pass"
            + (f"; the first failure: {cause.describe()}" if cause is not None else "")
        )
    predictions = forward.predictions()
    losses = {example: example_loss(predictions[example], batch[example], loss_of(training)) for example in kept}
    shown, ranked = _split(kept, training, rng)
    return SettledForward(failed=list(failed), kept=kept, losses=losses, shown=shown, ranked=ranked)


def _split(kept: list[ExampleIndex], training: TrainingSpec, rng: random.Random) -> tuple[list[ExampleIndex], list[ExampleIndex]]:
    """The examples shown to proposals and used for ranking; with held-out ranking, proposals
    see one half of the batch and candidates are ranked on the other."""
    if not training.held_out_prompt_ranking or len(kept) < 2:
        return kept, kept
    shuffled = kept[:]
    rng.shuffle(shuffled)
    half = len(shuffled) // 2
    return sorted(shuffled[:half]), sorted(shuffled[half:])


class BatchViews:
    """What each node read and wrote on one example of the forward pass, and its prompts
    rendered there, with some nodes' outputs replaced (`overrides`: posterior samples)."""

    def __init__(self, network: CompiledNetwork, forward_run: ForwardRun) -> None:
        self.network = network
        self.forward_run = forward_run

    def lm(self, node_id: str) -> LMNode:
        node = self.network.node(node_id)
        assert isinstance(node, LMNode)
        return node

    def texts(self, node_id: str, example: ExampleIndex, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        example_input = self.forward_run.input_of(node_id, example)
        return texts_for(self.network, self.lm(node_id), example_input, self.forward_run.outputs_of(example), overrides)

    def render(
        self, node_id: str, prompt: str, example: ExampleIndex, overrides: Mapping[str, str] | None = None,
        demonstrations: Sequence[Demonstration] | None = None,
    ) -> str:
        """The node's prompt on the example; `demonstrations` None shows the node's own."""
        return render_lm(self.network, self.lm(node_id), prompt, self.texts(node_id, example, overrides), demonstrations)

    def own_output(self, node_id: str, example: ExampleIndex) -> NodeOutput:
        output = self.forward_run.output(node_id, example)
        assert output is not None, f"no forward output of {node_id} for example {example}"
        return output

    def current(self, node_id: str, example: ExampleIndex) -> str:
        """The node's forward output text on the example: its current hidden state."""
        return self.own_output(node_id, example).text
