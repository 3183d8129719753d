"""`--set FIELD=VALUE` reaches training, data, model and node fields, checked as a spec is."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.runs.overrides import OverrideError, apply_overrides, format_assignment, parse_assignment
from dlngraph.spec import load_spec

DLN2 = load_spec(Path(__file__).resolve().parents[2] / "specs" / "dln2.yaml").spec


def test_overrides_reach_data_sizes_model_settings_and_node_fields() -> None:
    changed = apply_overrides(DLN2, [
        "iterations=5", "training.trust_factor=2.5", "data.sizes.train=20", "data.params.min_steps=2",
        "models.fast.sampling.temperature=0.5", "models.backward.model=other", "nodes.answer.prompt=Just say Yes.",
    ])
    assert changed.training.iterations == 5 and changed.training.trust_factor == 2.5
    assert changed.data.sizes.train == 20 and changed.data.sizes.dev == DLN2.data.sizes.dev
    assert changed.data.params == {**DLN2.data.params, "min_steps": 2}
    assert changed.models["fast"].sampling.temperature == 0.5 and changed.models["backward"].model == "other"
    assert [node.prompt for node in changed.nodes if node.id == "answer"] == ["Just say Yes."]
    assert DLN2.training.iterations != 5  # the original is untouched


@pytest.mark.parametrize(("assignment", "message"), [
    ("data.sizes.trian=3", "--set: data.sizes.trian: unknown field 'trian' (did you mean 'train'?)"),
    ("models.slow.model=x", "--set models.slow.model: no model named 'slow'; known: backward, fast"),
    ("nodes.ask.prompt=x", "--set nodes.ask.prompt: no node with id 'ask'; known: reason, answer"),
    ("models.fast=x", "--set: 'models.fast' names no field; write models.NAME.FIELD"),
    ("data.sizes.train=-1", "--set: data.sizes.train: expected a value >= 0, found -1"),
    ("iteratons=3", "--set: training has no field 'iteratons'"),
    ("output=reason", "--set: training has no field 'output'"),
    ("models.fast.sampling.temperature.x=1", "--set models.fast.sampling.temperature.x: models.fast.sampling.temperature is not a section"),
])
def test_a_bad_override_says_which_field_and_why(assignment: str, message: str) -> None:
    with pytest.raises(OverrideError) as caught:
        apply_overrides(DLN2, [assignment])
    assert message in str(caught.value)


@pytest.mark.parametrize("value", ["plain text", "Yes", "3", "true", "a: b", [1, 2], {"x": 1}, 0.5, None, "line\nbreak"])
def test_an_assignment_reads_back_as_the_value_it_was_made_from(value: object) -> None:
    assert parse_assignment(format_assignment("nodes.answer.prompt", value)) == (("nodes", "answer", "prompt"), value)
