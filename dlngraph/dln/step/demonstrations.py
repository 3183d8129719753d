"""Demonstrations (stage 5b of docs/TRAINING.md): the sets of demonstrations a node's
candidates show, and the demonstrations the step's batch gives for later steps.

- `sets(node)`: candidate sets drawn from the node's pool (`dln/demonstration_pool.py`), never
  from an example of this batch, so that no candidate is scored on an example it shows;
  they need no call, so they are known candidates, ranked from the start with the current prompt.
- `harvest(node)`, once the step is done: bootstrapped demonstrations of this batch. At a scored
  node, the examples the network answers right, with what the node read there and the target
  as output. At a hidden node, the examples whose target the network answers right from the
  best hidden state h*, with what the node read and h* as output: (x, h*) is a draw of the
  hidden layer's own target behaviour under the posterior q(h | x, y).
"""

from __future__ import annotations

import random

from dlngraph.dln.demonstration_pool import answer_of, draw_sets, drawable, sets_per_step, source_of
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.step.batch import ExampleIndex
from dlngraph.dln.step.sharpening import Sharpening
from dlngraph.dln.step.state import StepState
from dlngraph.engine.node_ops import join_texts
from dlngraph.spec.nodes import Demonstration


class Demonstrations:
    def __init__(self, state: StepState, sharpening: Sharpening) -> None:
        self.state = state
        self.sharpening = sharpening
        self._sets: dict[str, list[list[Demonstration]]] = {}

    def learns(self, node_id: str) -> bool:
        """Whether the node learns demonstrations (k > 0)."""
        return self.state.network.num_demos(node_id) > 0

    def current(self, node_id: str) -> list[Demonstration]:
        """What the node shows now (none at a node that shows none)."""
        return list(self.state.demonstrations.get(node_id, []))

    def sets(self, node_id: str) -> list[list[Demonstration]]:
        """The node's candidate sets for this step: `num_demo_sets` (by default as many as the
        proposed prompts) sets of k, drawn from the pool without this batch's examples, with
        the step's seed; none at a node that learns none."""
        if node_id not in self._sets:
            self._sets[node_id] = self._draw(node_id) if self.learns(node_id) else []
        return self._sets[node_id]

    def _draw(self, node_id: str) -> list[list[Demonstration]]:
        state = self.state
        entries = drawable(state.settings.demonstration_pool.get(node_id, []), state.batch)
        rng = random.Random(derive_seed(state.seed, node_id, "demonstrations"))
        return draw_sets(entries, state.network.num_demos(node_id), sets_per_step(state.training), self.current(node_id), rng,
                         balanced=bool(state.lm(node_id).classes))

    async def harvest(self, node_id: str) -> list[Demonstration]:
        """This batch's demonstrations of the node, for the pool of later steps (see the
        module docstring); call it once the step's updates are done (it asks nothing new)."""
        if not self.learns(node_id):
            return []
        settled = await self.state.forward_done()
        if node_id in self.state.roles.scored:
            right = [example for example in settled.kept if settled.losses[example] == 0]
            return [self._demonstration(node_id, example, answer_of(self.state.lm(node_id), self.state.batch[example].target))
                    for example in right]
        best = dict(zip(settled.kept, await self.sharpening.best_hidden(node_id), strict=True))
        return [self._demonstration(node_id, example, best[example])
                for example in settled.kept if await self._right_with(node_id, example, best[example])]

    def _demonstration(self, node_id: str, example: ExampleIndex, output: str) -> Demonstration:
        node = self.state.lm(node_id)
        texts = self.state.views.texts(node_id, example)
        return Demonstration(
            input=join_texts([texts[source] for source in node.inputs]),
            residual=join_texts([texts[source] for source in node.residual]),
            output=output,
            source=source_of(self.state.batch[example]),
        )

    async def _right_with(self, node_id: str, example: ExampleIndex, best: str) -> bool:
        """Whether the network answers the example right from the hidden text `best`: every
        consumer, a scored one, puts its highest class probability on the target given it (the
        sharpening's own term, asked again from the memo). Where that cannot be read (a
        consumer without classes, or hidden itself), only a forward state the network answered
        right counts."""
        state = self.state
        settled = await state.forward_done()
        forward_right = best == state.views.current(node_id, example) and settled.losses[example] == 0
        verdicts = []
        for consumer in state.roles.consumers(node_id):
            if consumer not in state.roles.scored:
                return forward_right
            term = await self.sharpening.consumer_term(node_id, consumer, example, best, state.batch[example],
                                                       state.terms.method(consumer))
            if term.distribution is None:
                return forward_right
            wanted = answer_of(state.lm(consumer), state.batch[example].target)
            verdicts.append(max(term.distribution, key=term.distribution.__getitem__) == wanted)
        return all(verdicts) if verdicts else forward_right
