"""Property tests: whatever the input, loading either succeeds or raises `SpecError`.

Three sources of input: random node graphs with random field values, random values put in
random places of a valid spec, and random edits of the shipped YAML files.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlngraph.graph import compile_network
from dlngraph.spec import SpecError, dump_spec, load_spec_text
from dlngraph.spec.templates import available_templates
from tests.spec.spec_helpers import SHIPPED_SPECS

IDS = ["a", "b", "c", "d", "input", "1bad", "", "e-f"]
KINDS = ["lm", "lm", "lm", "vote", "concat", "llm"]
TEMPLATES = [ref.split("@")[0] for ref in available_templates()] + ["forward@1", "forward@9", "nope"]
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(IDS),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def random_node(draw: st.DrawFn) -> dict[str, Any]:
    node: dict[str, Any] = {"kind": draw(st.sampled_from(KINDS)), "id": draw(st.sampled_from(IDS))}
    optional = {
        "model": st.sampled_from(["fast", "slow", "other"]),
        "inputs": st.lists(st.sampled_from(IDS), max_size=3),
        "residual": st.lists(st.sampled_from(IDS), max_size=2),
        "template": st.sampled_from(TEMPLATES),
        "template_source": st.sampled_from(
            ["{{ prompt }} {{ input }}", "{{ inputs | join(' ') }}", "{% if %}", "{{ x }}"]
        ),
        "prompt": st.text(max_size=20),
        "trainable": st.booleans(),
        "classes": st.lists(st.sampled_from(["Yes|yes", "No", "No|no", "|", "Maybe"]), max_size=3),
        "max_tokens": st.integers(-2, 50),
        "temperature": st.floats(-1, 2),
        "method": st.sampled_from(["majority", "mean", "median"]),
        "promt": st.text(max_size=5),
    }
    for field, strategy in optional.items():
        if draw(st.booleans()):
            node[field] = draw(strategy)
    return node


@st.composite
def random_spec(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "name": draw(st.sampled_from(["net", ""])),
        "models": {"fast": {"backend": "local"}, "slow": {"backend": draw(st.sampled_from(["local", "openai", "x"]))}},
        "nodes": draw(st.lists(random_node(), min_size=0, max_size=5)),
        "output": draw(st.sampled_from(IDS)),
        "training": draw(
            st.fixed_dictionaries(
                {}, optional={"batch_size": st.integers(-1, 9), "backward_model": st.sampled_from(["slow", "x"])}
            )
        ),
    }


def load_or_spec_error(text: str) -> None:
    """The property: a spec loads (and then compiles and round-trips) or raises SpecError."""
    try:
        loaded = load_spec_text(text, filename="random.yaml")
    except SpecError as error:
        assert error.issues, "a SpecError must carry at least one issue"
        lines = text.count("\n") + 1
        for issue in error.issues:
            assert issue.message
            assert 0 <= issue.line <= lines + 1
        return
    network = compile_network(loaded.spec)
    assert network.output == loaded.spec.output
    assert load_spec_text(dump_spec(loaded.spec)).spec == loaded.spec


@SETTINGS
@given(random_spec())
def test_random_node_graphs(document: dict[str, Any]) -> None:
    load_or_spec_error(yaml.safe_dump(document, sort_keys=False))


@SETTINGS
@given(
    spec_index=st.integers(0, len(SHIPPED_SPECS) - 1),
    where=st.lists(
        st.one_of(
            st.integers(0, 5),
            st.sampled_from(["nodes", "models", "training", "data", "sizes", "inputs", "sampling", "id", "classes"]),
        ),
        min_size=1,
        max_size=4,
    ),
    value=values,
)
def test_random_values_in_random_places(spec_index: int, where: list[Any], value: Any) -> None:
    document = yaml.safe_load(SHIPPED_SPECS[spec_index].read_text(encoding="utf-8"))
    target = document
    for step in where[:-1]:
        if isinstance(target, dict) and isinstance(step, str) and isinstance(target.get(step), (dict, list)):  # noqa: SIM114 - a key and an index are two cases
            target = target[step]
        elif (
            isinstance(target, list)
            and isinstance(step, int)
            and step < len(target)
            and isinstance(target[step], (dict, list))
        ):
            target = target[step]
    last = where[-1]
    if isinstance(target, dict):
        target[str(last)] = value
    elif isinstance(target, list):
        target.append(value) if not isinstance(last, int) or last >= len(target) else target.__setitem__(last, value)
    load_or_spec_error(yaml.safe_dump(document, sort_keys=False))


@st.composite
def mutated_text(draw: st.DrawFn) -> str:
    text = SHIPPED_SPECS[draw(st.integers(0, len(SHIPPED_SPECS) - 1))].read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        lines = text.splitlines(keepends=True)
        line = draw(st.integers(0, len(lines) - 1))
        operation = draw(
            st.sampled_from(["delete_line", "duplicate_line", "indent", "dedent", "insert", "delete_chars", "swap"])
        )
        if operation == "delete_line":
            del lines[line]
        elif operation == "duplicate_line":
            lines.insert(line, lines[line])
        elif operation == "indent":
            lines[line] = "  " + lines[line]
        elif operation == "dedent":
            lines[line] = lines[line].removeprefix("  ")
        elif operation == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
        text = "".join(lines)
        position = draw(st.integers(0, len(text)))
        if operation == "insert":
            text = (
                text[:position]
                + draw(st.text(st.sampled_from(list(":-[]{}|>&*!#'\"\t ,x0\n")), min_size=1, max_size=4))
                + text[position:]
            )
        elif operation == "delete_chars":
            text = text[:position] + text[position + draw(st.integers(1, 8)) :]
    return text


@SETTINGS
@given(mutated_text())
def test_random_yaml_edits(text: str) -> None:
    load_or_spec_error(text)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    load_or_spec_error(text)
