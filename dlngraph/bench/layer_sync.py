"""The paper's forward pass: layer after layer, each layer in mini-batches of 20.

This is the baseline `run_forward` is compared with. Every (node, example) call of a layer is
sent in mini-batches of `batch_size`, each awaited in full before the next is sent, and the
next layer starts only when the whole layer is done. All lm nodes of one layer share the
mini-batches (the reference code has one node per layer; pooling a layer's nodes can only
make the baseline faster, so the speedup measured against it is a lower bound).
"""

from __future__ import annotations

from collections.abc import Sequence

from dlngraph.bench.gate import PAPER_MINI_BATCH
from dlngraph.engine import ForwardResult, NodeOutput, gather
from dlngraph.engine.node_ops import (
    Models,
    evaluate_concat,
    evaluate_lm,
    evaluate_vote,
    source_texts,
    vote_verbalizers,
)
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import INPUT, ConcatNode, LMNode, VoteNode

Cell = tuple[str, int]
"""(node id, example index)."""


async def run_layer_synchronous(
    network: CompiledNetwork,
    models: Models,
    inputs: Sequence[str],
    *,
    batch_size: int = PAPER_MINI_BATCH,
    phase: str = "forward",
) -> ForwardResult:
    """Run `network` over `inputs` layer by layer; the first failure is raised."""
    outputs: dict[Cell, NodeOutput] = {}
    for layer in network.layers:
        calls = [(node, example) for node in layer if _is_lm(network, node) for example in range(len(inputs))]
        for start in range(0, len(calls), batch_size):
            chunk = calls[start:start + batch_size]
            results = await gather(_call(network, models, inputs, outputs, cell, phase) for cell in chunk)
            outputs.update(zip(chunk, results, strict=True))
        for node in layer:
            if not _is_lm(network, node):
                for example in range(len(inputs)):
                    outputs[node, example] = _combine(network, node, inputs[example], outputs, example)
    nodes = [node for layer in network.layers for node in layer]
    return ForwardResult(
        output_node=network.output,
        outputs={node: [[outputs[node, example]] for example in range(len(inputs))] for node in nodes},
    )


def _is_lm(network: CompiledNetwork, node_id: str) -> bool:
    return isinstance(network.node(node_id), LMNode)


def _parents(network: CompiledNetwork, node_id: str, outputs: dict[Cell, NodeOutput], example: int) -> dict[str, NodeOutput]:
    node = network.node(node_id)
    sources = [*node.inputs, *getattr(node, "residual", [])]
    return {source: outputs[source, example] for source in dict.fromkeys(sources) if source != INPUT}


async def _call(
    network: CompiledNetwork,
    models: Models,
    inputs: Sequence[str],
    outputs: dict[Cell, NodeOutput],
    cell: Cell,
    phase: str,
) -> NodeOutput:
    node_id, example = cell
    node = network.node(node_id)
    assert isinstance(node, LMNode)
    parents = _parents(network, node_id, outputs, example)
    text_of = source_texts(list(parents), inputs[example], parents)
    return await evaluate_lm(
        network, models, node, node.prompt, text_of, temperature=None, sample=0, seed=None, phase=phase
    )


def _combine(network: CompiledNetwork, node_id: str, text: str, outputs: dict[Cell, NodeOutput], example: int) -> NodeOutput:
    """A vote or concat node: no model call, just its parents' outputs rearranged."""
    node = network.node(node_id)
    ordered = [outputs[source, example] if source != INPUT else NodeOutput(text=text) for source in node.inputs]
    if isinstance(node, VoteNode):
        return evaluate_vote(node, ordered, vote_verbalizers(network, node))
    if isinstance(node, ConcatNode):
        return evaluate_concat(network, node, [output.text for output in ordered])
    raise TypeError(f"unknown node kind: {type(node).__name__}")
