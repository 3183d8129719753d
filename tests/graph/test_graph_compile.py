"""The compiled network of each shipped spec, and the CompiledNetwork API."""

from __future__ import annotations

from pathlib import Path

import msgspec
import networkx as nx
import pytest

from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.spec import (
    LMNode,
    NetworkSpec,
    SpecError,
    VoteNode,
    load_spec,
    load_spec_text,
)
from dlngraph.spec.models import ModelSpec

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"


def shipped(name: str) -> CompiledNetwork:
    return compile_network(load_spec(SPECS_DIR / f"{name}.yaml").spec)


def test_dln1() -> None:
    network = shipped("dln1")
    assert network.output == "answer"
    assert network.layers == [["answer"]]
    assert network.topological_order == ["answer"]
    assert network.intermediate == []
    assert network.trainable == ["answer"]
    assert (network.critical_path, network.critical_path_length) == (["answer"], 1)
    assert network.template("answer").ref == "classify@2"


def test_dln2() -> None:
    network = shipped("dln2")
    assert network.layers == [["reason"], ["answer"]]
    assert network.intermediate == ["reason"]
    assert network.trainable == ["reason", "answer"]
    assert network.parents("answer") == ["reason"]
    assert network.residual_sources("answer") == ["input"]
    assert network.children("input") == ["reason", "answer"]
    assert network.children("reason") == ["answer"]
    assert (network.critical_path, network.critical_path_length) == (["reason", "answer"], 2)
    assert network.graph.edges["input", "answer"]["kind"] == "residual"
    assert network.graph.edges["reason", "answer"]["kind"] == "input"
    assert network.template("reason").ref == "forward_cot@2"
    assert network.template("answer").ref == "classify_residual@2"


def test_deep4() -> None:
    network = shipped("deep4")
    chain = ["restate", "track", "summarize", "answer"]
    assert network.topological_order == chain
    assert network.layers == [[node] for node in chain]
    assert network.intermediate == chain[:3]
    assert network.critical_path == chain
    assert network.critical_path_length == 4


def test_wide_ensemble() -> None:
    network = shipped("wide_ensemble")
    assert network.layers == [["literal", "counting", "skeptic"], ["vote"]]
    assert network.intermediate == ["literal", "counting", "skeptic"]
    assert network.lm_nodes == ["literal", "counting", "skeptic"]
    assert network.trainable == ["literal", "counting", "skeptic"]
    assert network.critical_path_length == 1  # the vote costs no LLM call
    assert network.critical_path == ["literal", "vote"]
    assert isinstance(network.node("vote"), VoteNode)
    assert len(set(network.prompts().values())) == 3


def test_residual() -> None:
    network = shipped("residual")
    assert network.layers == [["moves"], ["position"], ["answer"]]
    assert network.residual_sources("answer") == ["input", "moves"]
    assert network.residual_sources("position") == ["input"]
    assert network.children("moves") == ["position", "answer"]
    assert network.critical_path_length == 3
    assert network.intermediate == ["moves", "position"]


def test_graph_nodes_and_edge_kinds() -> None:
    network = shipped("residual")
    assert set(network.graph.nodes) == {"input", "moves", "position", "answer"}
    kinds = {(source, reader): kind for source, reader, kind in network.graph.edges(data="kind")}
    assert kinds == {
        ("input", "moves"): "input",
        ("moves", "position"): "input",
        ("input", "position"): "residual",
        ("position", "answer"): "input",
        ("input", "answer"): "residual",
        ("moves", "answer"): "residual",
    }
    with pytest.raises(nx.NetworkXError):
        network.graph.add_edge("answer", "moves")  # frozen: shared by every with_prompts copy


def test_with_prompts_returns_a_new_network() -> None:
    network = shipped("dln2")
    changed = network.with_prompts({"reason": "Think harder."})
    assert changed.prompts()["reason"] == "Think harder."
    assert changed.prompts()["answer"] == network.prompts()["answer"]
    assert network.prompts()["reason"] != "Think harder."
    assert changed.layers == network.layers


def test_with_prompts_rejects_unknown_and_non_lm_nodes() -> None:
    with pytest.raises(KeyError, match="'ghost'"):
        shipped("dln2").with_prompts({"ghost": "x"})
    with pytest.raises(KeyError, match="'vote'"):
        shipped("wide_ensemble").with_prompts({"vote": "x"})


def test_unknown_node_lookups_name_the_network() -> None:
    network = shipped("dln1")
    with pytest.raises(KeyError, match="network 'dln1' has no node 'nope'"):
        network.node("nope")
    with pytest.raises(KeyError):
        network.template("nope")


def test_nodes_the_output_ignores_do_not_run() -> None:
    loaded = load_spec_text(
        """
name: t
models: {fast: {backend: local}}
nodes:
  - {kind: lm, id: side, model: fast, prompt: x}
  - {kind: lm, id: main, model: fast, prompt: y}
  - {kind: lm, id: answer, model: fast, prompt: z, inputs: [main]}
output: answer
"""
    )
    network = compile_network(loaded.spec)
    assert network.node_ids == ["side", "main", "answer"]
    assert network.topological_order == ["main", "answer"]
    assert network.required_by_output == {"main", "answer"}
    assert network.trainable == ["main", "answer"]
    assert "side" in network.prompts()


def test_concat_nodes_cost_no_call_and_have_a_template() -> None:
    loaded = load_spec_text(
        """
name: t
models: {fast: {backend: local}}
nodes:
  - {kind: lm, id: a, model: fast, prompt: x}
  - {kind: lm, id: b, model: fast, prompt: y}
  - {kind: concat, id: both, inputs: [a, b]}
  - {kind: lm, id: answer, model: fast, prompt: z, inputs: [both]}
output: answer
"""
    )
    network = compile_network(loaded.spec)
    assert network.layers == [["a", "b"], ["both"], ["answer"]]
    assert network.critical_path_length == 2
    assert network.template("both").ref == "concat@1"
    assert network.lm_nodes == ["a", "b", "answer"]


def test_compile_checks_specs_built_in_code() -> None:
    spec = NetworkSpec(
        name="code",
        models={"fast": ModelSpec(backend="local")},
        nodes=[LMNode(id="a", model="fast", prompt="x", inputs=["missing"])],
        output="a",
    )
    with pytest.raises(SpecError) as raised:
        compile_network(spec)
    assert str(raised.value) == "<spec>: nodes[0].inputs[0]: unknown node 'missing' (known: a, input)"


def test_compile_reports_wrong_python_types_in_code_specs() -> None:
    node = LMNode(id="a", model="fast", prompt="x")
    spec = NetworkSpec(name="code", models={"fast": ModelSpec(backend="local")}, nodes=[node], output="a")
    broken = msgspec.structs.replace(spec, nodes=[msgspec.structs.replace(node, max_tokens="many")])
    with pytest.raises(SpecError, match=r"nodes\[0\].max_tokens: expected an integer or null, found string 'many'"):
        compile_network(broken)


def test_a_loaded_spec_changed_in_code_is_checked_again_when_compiled() -> None:
    """Loading checks the file; compiling checks again, since code may change a spec between."""
    spec = load_spec_text(
        "name: t\nmodels: {fast: {backend: local}}\nnodes:\n  - {kind: lm, id: answer, model: fast, prompt: x}\noutput: answer\n"
    ).spec
    spec.output = "ghost"
    with pytest.raises(SpecError) as raised:
        compile_network(spec)
    assert str(raised.value) == "<spec>: output: output names unknown node 'ghost' (known: answer)"
