"""Graph algorithms the compiled network needs: rounds of parallel work and the critical path.

Both work on the dependency DiGraph (`input` plus node ids, edges from source to reader) and
on a subset of nodes: the ones that actually run.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from dlngraph.spec.nodes import INPUT


def ordered_topologically(graph: nx.DiGraph, nodes: set[str], rank: Callable[[str], int]) -> list[str]:
    """`nodes` in a topological order; ties follow `rank` (declaration order), so it is stable."""
    sub = graph.subgraph(nodes)
    return list(nx.lexicographical_topological_sort(sub, key=rank))


def layers(graph: nx.DiGraph, order: list[str]) -> list[list[str]]:
    """Rounds of nodes whose sources are all computed in earlier rounds.

    A node's round is its longest distance from `input`, minus one: round 0 reads only the
    input. `order` must be topological; nodes keep that order within a round.
    """
    depth = {INPUT: 0}
    for node in order:
        depth[node] = 1 + max((depth[source] for source in graph.predecessors(node) if source in depth), default=0)
    rounds: list[list[str]] = [[] for _ in range(max((depth[node] for node in order), default=0))]
    for node in order:
        rounds[depth[node] - 1].append(node)
    return rounds


def critical_path(graph: nx.DiGraph, order: list[str], output: str, cost: Callable[[str], int]) -> list[str]:
    """The input->output path with the largest total `cost`, as node ids (without `input`).

    `order` must be topological. Ties go to the predecessor met first in `order`.
    """
    rank = {INPUT: -1} | {node: index for index, node in enumerate(order)}
    best: dict[str, int] = {INPUT: 0}
    previous: dict[str, str] = {}
    for node in order:
        sources = [source for source in graph.predecessors(node) if source in best]
        heaviest = max(sources, key=lambda source: (best[source], -rank[source]), default=INPUT)
        best[node] = best.get(heaviest, 0) + cost(node)
        previous[node] = heaviest
    path = [output]
    while previous.get(path[-1], INPUT) != INPUT:
        path.append(previous[path[-1]])
    return path[::-1]
