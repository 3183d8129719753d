"""The part each node plays in training, as the trainer asks for it.

The roles (*scored*, *hidden*, *consumers*) are defined once, by the compiled graph
(`dlngraph.graph.compiled`); `Roles` adds what training needs on top: an error when the output
has no scored node, and the lists computed once per network.
"""

from __future__ import annotations

from functools import cached_property

from dlngraph.graph import CompiledNetwork


class TrainingError(Exception):
    """The network or its models cannot be trained as configured; the message says why."""


class Roles:
    def __init__(self, network: CompiledNetwork) -> None:
        self.network = network

    @cached_property
    def scored(self) -> list[str]:
        """`CompiledNetwork.scored`; a `TrainingError` when there is none to compare with the label."""
        scored = self.network.scored
        if not scored:
            raise TrainingError(
                f"output node '{self.network.output}' must be an lm node or a vote over lm nodes to be trained"
            )
        return scored

    @cached_property
    def hidden(self) -> list[str]:
        """`CompiledNetwork.hidden`; the same `TrainingError` as `scored` for an untrainable output."""
        return self.network.hidden if self.scored else []

    def consumers(self, node_id: str) -> list[str]:
        """`CompiledNetwork.consumers`: the nearest lm nodes that read `node_id`."""
        return self.network.consumers(node_id)

    def hidden_parents(self, node_id: str) -> list[str]:
        """`CompiledNetwork.hidden_parents`: the nearest hidden nodes that `node_id` reads."""
        return self.network.hidden_parents(node_id)
