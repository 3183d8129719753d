"""Property tests over random valid networks: the compiled graph keeps its promises.

Networks are valid by construction (each node reads the input or earlier nodes, templates
match the sources), so every one must load; then layers, order and critical path are checked
against their definitions, the path against a brute-force search.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from dlngraph.graph import compile_network
from dlngraph.spec import INPUT, LMNode, dump_spec, load_spec_text

PROMPTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30).filter(
    str.strip
)


@st.composite
def valid_network(draw: st.DrawFn) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = []
    for index in range(draw(st.integers(1, 7))):
        earlier = [INPUT] + [node["id"] for node in nodes]
        inputs = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=3, unique=True))
        if index > 0 and draw(st.integers(0, 4)) == 0:
            nodes.append({"kind": "concat", "id": f"n{index}", "inputs": inputs})
            continue
        residual = draw(
            st.lists(st.sampled_from([s for s in earlier if s not in inputs] or [INPUT]), max_size=2, unique=True)
        )
        residual = [source for source in residual if source not in inputs]
        template = draw(
            st.sampled_from(["classify_residual", "residual"] if residual else ["forward", "forward_cot", "classify"])
        )
        node = {
            "kind": "lm",
            "id": f"n{index}",
            "model": "fast",
            "template": template,
            "inputs": inputs,
            "prompt": draw(PROMPTS),
        }
        if residual:
            node["residual"] = residual
        if draw(st.booleans()):
            node["trainable"] = False
        nodes.append(node)
    output = nodes[-1]["id"]
    if draw(st.booleans()):
        voters = [node for node in nodes if node["kind"] == "lm"][-3:]
        for voter in voters:
            voter["classes"] = ["Yes|yes", "No|no"]
        nodes.append({"kind": "vote", "id": "vote", "inputs": [voter["id"] for voter in voters]})
        output = "vote"
    elif nodes[-1]["kind"] == "lm" and draw(st.booleans()):
        nodes[-1]["classes"] = ["A", "B", "C"]
    return {"name": "random", "models": {"fast": {"backend": "local"}}, "nodes": nodes, "output": output}


def llm_calls_on_longest_path(graph: nx.DiGraph, output: str, lm_nodes: set[str]) -> int:
    return max(sum(node in lm_nodes for node in path) for path in nx.all_simple_paths(graph, INPUT, output))


@settings(max_examples=150, deadline=None)
@given(valid_network())
def test_compiled_graph_invariants(document: dict[str, Any]) -> None:
    loaded = load_spec_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    network = compile_network(loaded.spec)
    order = network.topological_order
    assert set(order) == network.required_by_output
    assert order[-1] == network.output or network.output in order

    position = {node: index for index, node in enumerate(order)}
    round_of = {node: index for index, layer in enumerate(network.layers) for node in layer}
    assert sorted(round_of) == sorted(order)
    for node in order:
        sources = network.parents(node) + network.residual_sources(node)
        for source in sources:
            if source != INPUT:
                assert position[source] < position[node]
                assert round_of[source] < round_of[node]
        if round_of[node] == 0:
            assert set(sources) == {INPUT}

    path = network.critical_path
    assert path[-1] == network.output
    assert INPUT in network.graph.predecessors(path[0])
    assert all(network.graph.has_edge(a, b) for a, b in zip(path, path[1:], strict=False))
    lm_nodes = {node.id for node in loaded.spec.nodes if isinstance(node, LMNode)}
    assert network.critical_path_length == sum(node in lm_nodes for node in path)
    assert network.critical_path_length == llm_calls_on_longest_path(network.graph, network.output, lm_nodes)

    assert network.intermediate == [node for node in order if node != network.output]
    assert set(network.trainable) <= set(network.lm_nodes) <= set(order)
    assert load_spec_text(dump_spec(loaded.spec)).spec == loaded.spec


@settings(max_examples=50, deadline=None)
@given(valid_network(), PROMPTS)
def test_with_prompts_changes_only_the_given_prompts(document: dict[str, Any], prompt: str) -> None:
    network = compile_network(load_spec_text(yaml.safe_dump(document)).spec)
    target = next(iter(network.prompts()))  # node 0 is always an lm node
    before = network.prompts()
    changed = network.with_prompts({target: prompt})
    assert changed.prompts() == before | {target: prompt}
    assert network.prompts() == before
    assert changed.layers == network.layers and changed.critical_path == network.critical_path
