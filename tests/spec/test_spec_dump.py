"""`dump_spec` writes YAML that loads back to an equal spec, readable by a person."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dlngraph.spec import LMNode, NetworkSpec, dump_spec, load_spec, load_spec_text
from dlngraph.spec.models import ModelSpec, Sampling
from dlngraph.spec.training import TrainingSpec
from tests.spec.spec_helpers import SHIPPED_SPECS


def small_network(prompt: str = "Answer.", description: str = "") -> NetworkSpec:
    return NetworkSpec(
        name="built_in_code",
        description=description,
        models={
            "fast": ModelSpec(backend="local"),
            "warm": ModelSpec(backend="local", sampling=Sampling(temperature=0.7)),
        },
        nodes=[
            LMNode(id="reason", model="fast", template="forward_cot", prompt=prompt),
            LMNode(
                id="answer",
                model="fast",
                template="classify_residual",
                inputs=["reason"],
                residual=["input"],
                prompt="Yes or no?",
                classes=["Yes|yes", "No|no"],
            ),
        ],
        output="answer",
        training=TrainingSpec(iterations=2, backward_model="warm"),
    )


@pytest.mark.parametrize("path", SHIPPED_SPECS, ids=lambda path: path.name)
def test_shipped_specs_round_trip(path: Path, tmp_path: Path) -> None:
    spec = load_spec(path).spec
    written = tmp_path / path.name
    written.write_text(dump_spec(spec), encoding="utf-8")
    assert load_spec(written).spec == spec


def test_defaults_are_left_out() -> None:
    text = dump_spec(small_network())
    assert "max_concurrency" not in text  # a default of Limits
    assert "trainable" not in text  # LMNode's default
    assert "proposal_template" not in text
    assert "iterations: 2" in text
    assert "temperature: 0.7" in text


def test_multi_line_prompts_use_literal_blocks() -> None:
    prompt = "First, list the moves.\nThen add them up.\n"
    text = dump_spec(small_network(prompt=prompt))
    assert "prompt: |\n      First, list the moves.\n      Then add them up.\n" in text
    assert load_spec_text(text).spec.nodes[0].prompt == prompt


def test_top_level_fields_come_in_reading_order() -> None:
    text = dump_spec(small_network(description="Two layers."))
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith(" ")]
    assert keys == ["name", "description", "models", "nodes", "output", "training"]


def test_strings_that_look_like_other_types_stay_strings() -> None:
    spec = small_network(prompt="yes")
    spec.nodes[1] = msgspec.structs.replace(spec.nodes[1], classes=["true|True", "null|None", "1.5|2"])
    assert load_spec_text(dump_spec(spec)).spec == spec


@settings(max_examples=100, deadline=None)
@example(prompt="0\x85", description="line\u2028separator")  # YAML 1.1 line breaks
@given(prompt=st.text(min_size=1).filter(lambda text: text.strip()), description=st.text())
def test_any_text_round_trips(prompt: str, description: str) -> None:
    spec = small_network(prompt=prompt, description=description)
    assert load_spec_text(dump_spec(spec)).spec == spec
