"""`Roles`: the compiled graph's roles, and the error for an output training cannot score."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.dln.roles import Roles, TrainingError
from dlngraph.graph import compile_network
from dlngraph.spec import load_spec, load_spec_text

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"


@pytest.mark.parametrize("name", ["dln1", "dln2", "wide_ensemble", "residual"])
def test_roles_are_the_compiled_graphs(name: str) -> None:
    network = compile_network(load_spec(SPECS_DIR / f"{name}.yaml").spec)
    roles = Roles(network)
    assert (roles.scored, roles.hidden) == (network.scored, network.hidden)
    for node in network.topological_order:
        assert roles.consumers(node) == network.consumers(node)
        assert roles.hidden_parents(node) == network.hidden_parents(node)


def test_an_output_with_no_scored_node_cannot_be_trained() -> None:
    spec = load_spec_text(
        """
name: t
models: {fast: {backend: local}}
nodes:
  - {kind: lm, id: a, model: fast, prompt: x}
  - {kind: concat, id: joined, inputs: [a]}
output: joined
"""
    ).spec
    roles = Roles(compile_network(spec))
    for role in ("scored", "hidden"):
        with pytest.raises(TrainingError, match="output node 'joined' must be an lm node or a vote"):
            getattr(roles, role)
