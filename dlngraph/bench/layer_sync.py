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
    evaluate_combiner,
    evaluate_lm,
    source_texts,
)
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.dependencies import parent_ids
from dlngraph.spec.nodes import LMNode

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
        for chunk in mini_batches(network, layer, len(inputs), batch_size):
            results = await gather(_call(network, models, inputs, outputs, cell, phase) for cell in chunk)
            outputs.update(zip(chunk, results, strict=True))
        for node in layer:
            if not _is_lm(network, node):
                for example in range(len(inputs)):
                    parents = _parents(network, node, outputs, example)
                    outputs[node, example] = evaluate_combiner(network, network.node(node), inputs[example], parents)
    nodes = [node for layer in network.layers for node in layer]
    return ForwardResult(
        output_node=network.output,
        outputs={node: [[outputs[node, example]] for example in range(len(inputs))] for node in nodes},
    )


def mini_batches(
    network: CompiledNetwork, layer: Sequence[str], examples: int, batch_size: int = PAPER_MINI_BATCH
) -> list[list[Cell]]:
    """The lm calls of one layer over `examples` examples, in the mini-batches sent one after
    the other."""
    calls = [(node, example) for node in layer if _is_lm(network, node) for example in range(examples)]
    return [calls[start:start + batch_size] for start in range(0, len(calls), batch_size)]


def _is_lm(network: CompiledNetwork, node_id: str) -> bool:
    return isinstance(network.node(node_id), LMNode)


def _parents(network: CompiledNetwork, node_id: str, outputs: dict[Cell, NodeOutput], example: int) -> dict[str, NodeOutput]:
    return {source: outputs[source, example] for source in parent_ids(network.node(node_id))}


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
