"""The part each node plays in training, read off the compiled graph.

- *scored* nodes are compared with the label: the output lm node, or lm nodes whose answers
  reach the output only through `vote` nodes (members of an ensemble);
- *hidden* lm nodes produce latent text; their targets come from posterior inference;
- `concat` nodes are transparent: they only re-arrange their inputs' texts.
"""

from __future__ import annotations

from functools import cached_property

import networkx as nx

from dlngraph.engine.node_ops import parent_ids
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import ConcatNode, LMNode, VoteNode


class TrainingError(Exception):
    """The network or its models cannot be trained as configured; the message says why."""


class Roles:
    def __init__(self, network: CompiledNetwork) -> None:
        self.network = network

    @cached_property
    def scored(self) -> list[str]:
        found: list[str] = []
        self._collect_scored(self.network.output, found)
        if not found:
            raise TrainingError(
                f"output node '{self.network.output}' must be an lm node or a vote over lm nodes to be trained"
            )
        return found

    def _collect_scored(self, node_id: str, found: list[str]) -> None:
        node = self.network.node(node_id)
        if isinstance(node, LMNode):
            if node_id not in found:
                found.append(node_id)
        elif isinstance(node, VoteNode):
            for source in node.inputs:
                self._collect_scored(source, found)

    @cached_property
    def hidden(self) -> list[str]:
        """Hidden lm nodes whose posterior is needed: trainable, or feeding a trainable one's
        target chain (a frozen node between two trainable ones still passes targets up)."""
        lm_hidden = [
            node for node in self.network.topological_order
            if isinstance(self.network.node(node), LMNode)
            and node not in self.scored
            and node in self.network.required_by_output
        ]
        trainable = set(self.network.trainable)
        return [
            node for node in lm_hidden
            if node in trainable or trainable & nx.ancestors(self.network.graph, node)
        ]

    def consumers(self, node_id: str) -> list[str]:
        """Nearest lm nodes that read `node_id`, looking through concat nodes."""
        found: list[str] = []
        for child in self.network.children(node_id):
            node = self.network.node(child)
            if isinstance(node, LMNode):
                found.append(child)
            elif isinstance(node, ConcatNode):
                found.extend(self.consumers(child))
        return list(dict.fromkeys(found))

    def hidden_parents(self, node_id: str) -> list[str]:
        """Nearest hidden lm nodes (with posteriors) that `node_id` reads, through concat nodes."""
        node = self.network.node(node_id)
        found: list[str] = []
        for source in parent_ids(node):
            if source in self.hidden:
                found.append(source)
            elif source in self.network.graph and isinstance(self._maybe(source), ConcatNode):
                found.extend(self.hidden_parents(source))
        return list(dict.fromkeys(found))

    def _maybe(self, node_id: str):
        try:
            return self.network.node(node_id)
        except KeyError:
            return None
