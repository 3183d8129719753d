"""Shape: the network is acyclic, every node is fed from the input, the output uses every node."""

from __future__ import annotations

import networkx as nx

from dlngraph.spec.dependencies import dependency_graph, residual_sources
from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import INPUT


def check_structure(spec: NetworkSpec) -> list[Finding]:
    graph = dependency_graph(spec)
    index_of = {node.id: index for index, node in enumerate(spec.nodes)}
    cycles = [_cycle_finding(spec, graph, component, index_of) for component in _cyclic_components(graph)]
    if cycles:
        return cycles
    findings = []
    reachable = nx.descendants(graph, INPUT)
    required = nx.ancestors(graph, spec.output) | {spec.output}
    for index, node in enumerate(spec.nodes):
        if node.id not in reachable:
            if graph.in_degree(node.id) == 0:  # the cause; nodes reading it are consequences
                findings.append(Finding(("nodes", index), _unreachable_message(node.id, graph)))
        elif node.id not in required:
            findings.append(
                Finding(
                    ("nodes", index),
                    f"the output does not depend on node '{node.id}'; it will never run",
                    severity="warning",
                )
            )
    return findings


def _unreachable_message(node_id: str, graph: nx.DiGraph) -> str:
    message = f"node '{node_id}' cannot be reached from the input: it reads no node (empty inputs and residual)"
    fed = nx.descendants(graph, node_id)
    downstream = [other for other in graph.nodes if other in fed]
    if downstream:
        message += f"; nodes fed only through it: {', '.join(downstream)}"
    return message


def _cyclic_components(graph: nx.DiGraph) -> list[set[str]]:
    return [
        component
        for component in nx.strongly_connected_components(graph)
        if len(component) > 1 or graph.has_edge(next(iter(component)), next(iter(component)))
    ]


def _cycle_finding(spec: NetworkSpec, graph: nx.DiGraph, component: set[str], index_of: dict[str, int]) -> Finding:
    edges = nx.find_cycle(graph.subgraph(component), source=min(component, key=index_of.__getitem__))
    order = [source for source, _ in edges]
    # Rotate so the cycle reads from its first declared node, then point at that node's
    # reference to its predecessor on the cycle: the edge that closes the loop.
    start = min(order, key=index_of.__getitem__)
    shift = order.index(start)
    order = order[shift:] + order[:shift]
    reader = spec.nodes[index_of[start]]
    predecessor = order[-1]
    field = "inputs" if predecessor in reader.inputs else "residual"
    sources = list(reader.inputs) if field == "inputs" else residual_sources(reader)
    path = ("nodes", index_of[start], field, sources.index(predecessor))
    return Finding(path, f"cycle: {' -> '.join([*order, start])}")
