"""The whole document: a Deep Language Network as one YAML file."""

from __future__ import annotations

import msgspec

from dlngraph.spec.data import DataSpec
from dlngraph.spec.models import ModelSpec
from dlngraph.spec.nodes import Node
from dlngraph.spec.training import TrainingSpec


class NetworkSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    models: dict[str, ModelSpec]
    nodes: list[Node]
    output: str
    description: str = ""
    training: TrainingSpec = msgspec.field(default_factory=TrainingSpec)
    data: DataSpec | None = None
