"""Where each node of a network goes in a picture drawn without Graphviz.

The layout is layered, top to bottom: the input on the first row, then the network's layers
(`CompiledNetwork.layers`: a node sits one row below its deepest source), so every edge points
down. Within a row, nodes are sorted by the mean position of their sources (the barycenter
heuristic), which leaves few crossings in networks as small as DLNs are. Nodes the output
ignores get a last row of their own.
"""

from __future__ import annotations

from typing import NamedTuple

from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import INPUT


class Placement(NamedTuple):
    x: float
    """Slots from the middle of the picture: -0.5 and 0.5 for a row of two."""
    row: int
    """0 for the input row, growing downwards."""


def layered_layout(network: CompiledNetwork) -> dict[str, Placement]:
    """A placement for `input` and every declared node."""
    placed: dict[str, Placement] = {}
    for index, row in enumerate(rows(network)):
        ordered = sorted(row, key=lambda node: _barycenter(network, node, placed))  # stable: ties keep order
        for slot, node in enumerate(ordered):
            placed[node] = Placement(x=slot - (len(ordered) - 1) / 2, row=index)
    return placed


def rows(network: CompiledNetwork) -> list[list[str]]:
    """The input, the layers that run, then the nodes that never run (if any)."""
    unused = [node for node in network.node_ids if node not in network.required_by_output]
    return [[INPUT], *network.layers] + ([unused] if unused else [])


def _barycenter(network: CompiledNetwork, node: str, placed: dict[str, Placement]) -> float:
    """The mean x of the node's sources already placed (0 when there are none)."""
    sources = [placed[source].x for source in network.graph.predecessors(node) if source in placed]
    return sum(sources) / len(sources) if sources else 0.0
