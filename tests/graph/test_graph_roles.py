"""The one definition of each role (scored, hidden, consumers) pinned on the shipped specs,
and the structural ideas (children, intermediate) kept apart from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.spec import load_spec, load_spec_text
from dlngraph.spec.checks.classes import classes_read

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"


def shipped(name: str) -> CompiledNetwork:
    return compile_network(load_spec(SPECS_DIR / f"{name}.yaml").spec)


def written(nodes: str, output: str = "answer") -> CompiledNetwork:
    return compile_network(load_spec_text(f"name: t\nmodels: {{fast: {{backend: local}}}}\nnodes:\n{nodes}\noutput: {output}\n").spec)


def test_dln1_has_one_scored_node_and_no_hidden_one() -> None:
    network = shipped("dln1")
    assert (network.scored, network.hidden) == (["answer"], [])
    assert network.consumers("answer") == [] and network.hidden_parents("answer") == []


def test_dln2_hides_the_reasoning_that_the_answer_consumes() -> None:
    network = shipped("dln2")
    assert (network.scored, network.hidden) == (["answer"], ["reason"])
    assert network.consumers("reason") == ["answer"]
    assert network.hidden_parents("answer") == ["reason"]


def test_ensemble_members_are_scored_not_hidden() -> None:
    network = shipped("wide_ensemble")
    assert network.scored == ["literal", "counting", "skeptic"]
    assert network.hidden == []
    assert network.intermediate == ["literal", "counting", "skeptic"]  # structurally between input and output
    assert network.children("literal") == ["vote"] and network.consumers("literal") == []


def test_residual_sources_count_as_parents_and_consumers() -> None:
    network = shipped("residual")
    assert (network.scored, network.hidden) == (["answer"], ["moves", "position"])
    assert network.consumers("moves") == ["position", "answer"]
    assert network.hidden_parents("answer") == ["position", "moves"]  # inputs, then residual sources


def test_consumers_and_hidden_parents_look_through_concat_nodes() -> None:
    network = written(
        """\
  - {kind: lm, id: frozen, model: fast, prompt: x, trainable: false}
  - {kind: lm, id: notes, model: fast, prompt: y}
  - {kind: concat, id: both, inputs: [frozen, notes]}
  - {kind: lm, id: answer, model: fast, prompt: z, inputs: [both]}"""
    )
    assert network.children("notes") == ["both"]
    assert network.consumers("notes") == ["answer"]
    assert network.hidden == ["notes"]  # `frozen` is not trained and nothing trained feeds it
    assert network.hidden_parents("answer") == ["notes"]
    assert network.intermediate == ["frozen", "notes", "both"]


def test_a_frozen_node_between_trainable_ones_stays_hidden() -> None:
    network = written(
        """\
  - {kind: lm, id: first, model: fast, prompt: x}
  - {kind: lm, id: middle, model: fast, prompt: y, inputs: [first], trainable: false}
  - {kind: lm, id: answer, model: fast, prompt: z, inputs: [middle]}"""
    )
    assert network.hidden == ["first", "middle"]


def test_a_vote_inside_the_network_reads_classes_of_hidden_nodes() -> None:
    """The spec check's `classes_read` is a wider idea than `scored`: a vote that an lm node
    reads counts its members' classes, but only the output is compared with the label."""
    network = written(
        """\
  - {kind: lm, id: left, model: fast, prompt: x, classes: [Yes, No]}
  - {kind: lm, id: right, model: fast, prompt: y, classes: [Yes, No]}
  - {kind: vote, id: poll, inputs: [left, right]}
  - {kind: lm, id: answer, model: fast, prompt: z, inputs: [poll]}"""
    )
    assert network.scored == ["answer"]
    assert network.hidden == ["left", "right"]
    assert classes_read(network.spec) == {"answer", "left", "right"}


@pytest.mark.parametrize("name", ["dln1", "dln2", "wide_ensemble", "residual", "deep4"])
def test_every_scored_node_has_its_classes_read(name: str) -> None:
    network = shipped(name)
    assert set(network.scored) <= classes_read(network.spec)
    assert not set(network.scored) & set(network.hidden)
