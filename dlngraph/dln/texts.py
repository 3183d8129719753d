"""What a node reads for one example, with some upstream outputs replaced.

Scoring a posterior sample h~ of node h means re-rendering h's consumers as if h had produced
h~. Concat nodes between them are re-rendered too, so the substitution reaches through them.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from dlngraph.engine.node_ops import join_texts
from dlngraph.engine.results import NodeOutput
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import INPUT, ConcatNode, LMNode


def source_text(
    network: CompiledNetwork,
    source: str,
    example_input: str,
    outputs: Mapping[str, NodeOutput],
    overrides: Mapping[str, str],
) -> str:
    if source in overrides:
        return overrides[source]
    if source == INPUT:
        return example_input
    node = network.node(source)
    if isinstance(node, ConcatNode) and _depends_on_any(network, source, overrides):
        texts = [source_text(network, parent, example_input, outputs, overrides) for parent in node.inputs]
        return network.template(source).render(inputs=texts)
    return outputs[source].text


def _depends_on_any(network: CompiledNetwork, node: str, overrides: Mapping[str, str]) -> bool:
    return any(name in overrides for name in nx.ancestors(network.graph, node))


def texts_for(
    network: CompiledNetwork,
    node: LMNode,
    example_input: str,
    outputs: Mapping[str, NodeOutput],
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every source of `node` mapped to its text for one example."""
    overrides = overrides or {}
    return {
        source: source_text(network, source, example_input, outputs, overrides)
        for source in [*node.inputs, *node.residual]
    }


def reads(node: LMNode, texts: Mapping[str, str]) -> str:
    """What the node reads, without its prompt: shown to proposal and posterior templates."""
    return join_texts([texts[source] for source in [*node.residual, *node.inputs]])
