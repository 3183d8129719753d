"""Which node reads which: the edges a spec declares, as a networkx DiGraph.

Nodes are `input` plus every node id; an edge `source -> reader` carries `kind="input"` (the
source is in the reader's `inputs`) or `kind="residual"`. References to unknown ids are left
out: the checks report them. Validation and the graph layer share this one construction.
"""

from __future__ import annotations

import networkx as nx

from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import INPUT, LMNode, Node


def residual_sources(node: Node) -> list[str]:
    """The residual sources of a node (only `lm` nodes have them)."""
    return list(node.residual) if isinstance(node, LMNode) else []


def parent_ids(node: Node) -> list[str]:
    """The nodes whose outputs `node` reads (inputs, then residual sources), each once, `input`
    left out."""
    return [source for source in dict.fromkeys([*node.inputs, *residual_sources(node)]) if source != INPUT]


def dependency_graph(spec: NetworkSpec) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_node(INPUT)
    graph.add_nodes_from(node.id for node in spec.nodes)
    for node in spec.nodes:
        for source in residual_sources(node):
            if source in graph:
                graph.add_edge(source, node.id, kind="residual")
        for source in node.inputs:
            if source in graph:
                graph.add_edge(source, node.id, kind="input")
    return graph
