"""What a node reads of an example's input, when a training option changes it.

The paper's `strip_options_for_hidden` shows its first layer the question without the BBH
`Options:` block, so that the hidden text reasons instead of naming an option; the output layer
still sees the whole question through its residual edge. Training, validation and test forward
passes all read the input this way, as the paper's `VILModel.forward` does.
"""

from __future__ import annotations

from collections.abc import Callable

from dlngraph.data.options import without_options
from dlngraph.dln.roles import Roles
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.nodes import INPUT, LMNode
from dlngraph.spec.training import TrainingSpec

InputViews = dict[str, Callable[[str], str]]


def input_views(network: CompiledNetwork, training: TrainingSpec) -> InputViews:
    """Per node, a function of the example's input: what that node reads as `input`."""
    if not training.strip_options_for_hidden:
        return {}
    hidden = Roles(network).hidden
    return {
        node_id: without_options
        for node_id in hidden
        if isinstance(node := network.node(node_id), LMNode) and INPUT in [*node.inputs, *node.residual]
    }
