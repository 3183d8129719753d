"""How a stage awaits what another stage computes.

The stages form a cycle across nodes: a hidden node's posterior samples need its consumer's
target, which for a hidden consumer is the consumer's h*, which needs the consumer's own
samples and sharpening. So a stage cannot be built holding the stage it awaits; each is given
`Needs`, which `TrainingStep` implements by handing each quantity of `waits` to the stage that
computes it.
"""

from __future__ import annotations

from typing import Protocol

from dlngraph.dln.scoring import Target
from dlngraph.dln.step.batch import ExampleIndex
from dlngraph.dln.step.waits import Need


class Needs(Protocol):
    async def wait_for(self, needs: tuple[Need, ...], example: ExampleIndex | None = None) -> bool:
        """Await `needs` (declared in `waits`) in their order; False as soon as the example
        (of a per-example quantity) turns out to have failed before one of them."""
        ...

    async def targets(self, node_id: str) -> dict[ExampleIndex, Target]:
        """What `node_id` should produce on each example: the example itself for scored nodes,
        the best posterior sample h* for hidden ones (kept examples)."""
        ...
