"""The whole document: a Deep Language Network as one YAML file."""

from __future__ import annotations

import msgspec

from dlngraph.spec.data import DataSpec
from dlngraph.spec.models import ModelSpec
from dlngraph.spec.nodes import LMNode, Node
from dlngraph.spec.training import TrainingSpec


class NetworkSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    models: dict[str, ModelSpec]
    nodes: list[Node]
    output: str
    description: str = ""
    training: TrainingSpec = msgspec.field(default_factory=TrainingSpec)
    data: DataSpec | None = None


def num_demos(node: LMNode, training: TrainingSpec) -> int:
    """k of an lm node: how many demonstrations training learns for it (its own `num_demos`,
    else the training section's)."""
    return training.num_demos if node.num_demos is None else node.num_demos


def shows_demonstrations(node: LMNode, training: TrainingSpec) -> bool:
    """Whether the node's prompt holds demonstrations: it learns some, or was given some."""
    return num_demos(node, training) > 0 or bool(node.demonstrations)
