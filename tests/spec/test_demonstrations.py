"""Demonstrations in the spec: the templates that show them (versions 2, the same text as
versions 1 without any), `num_demos`, what `validate` says of a node whose template cannot show
them, and final.yaml's readable YAML."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlngraph.spec import Demonstration, dump_spec, load_spec_text
from dlngraph.spec.templates import get_template, inline_template
from tests.spec.spec_helpers import issues

FORWARD = ["forward", "forward_cot", "classify", "classify_residual", "residual"]

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.mark.parametrize("name", FORWARD)
def test_the_latest_forward_templates_are_versions_2_and_show_demonstrations(name: str) -> None:
    assert get_template(name).ref == f"{name}@2"
    assert "demonstrations" in get_template(name).variables
    assert "demonstrations" not in get_template(f"{name}@1").variables


@pytest.mark.parametrize("name", FORWARD)
@given(prompt=texts, input=texts, residual=texts)
def test_without_demonstrations_version_2_renders_version_1_to_the_byte(name: str, prompt: str, input: str, residual: str) -> None:
    variables = {"prompt": prompt, "input": input, "residual": residual}
    old = get_template(f"{name}@1").render(**variables)
    assert get_template(f"{name}@2").render(**variables, demonstrations=[]) == old
    assert get_template(f"{name}@2").render(**variables) == old  # a caller that knows nothing of them


DEMOS = [
    {"input": "2 + 2", "residual": "Q1", "output": "4", "source": "train-1"},
    {"input": "3 + 3", "residual": "Q2", "output": "6", "source": "train-2"},
]


def test_classify_shows_each_demonstration_as_an_answered_input() -> None:
    text = get_template("classify").render(prompt="Add.", input="5 + 5", demonstrations=DEMOS)
    assert text == "Add.\n\n2 + 2\nAnswer: 4\n\n3 + 3\nAnswer: 6\n\n5 + 5\nAnswer:"


def test_forward_shows_each_demonstration_with_the_instruction_and_its_output_as_the_completion() -> None:
    text = get_template("forward").render(prompt="Add.", input="5 + 5", residual="", demonstrations=DEMOS[:1])
    assert text == "2 + 2\n\nAdd.\n4\n\n5 + 5\n\nAdd.\n"


def test_forward_cot_shows_the_reasoning_after_the_cue() -> None:
    text = get_template("forward_cot").render(prompt="Add.", input="5 + 5", demonstrations=DEMOS[:1])
    cue = "Let me work through this one step at a time."
    assert text == f"2 + 2\n\nAdd.\n{cue}\n4\n\n5 + 5\n\nAdd.\n{cue}\n"


def test_classify_residual_shows_each_question_thoughts_and_answer() -> None:
    text = get_template("classify_residual").render(prompt="Decide.", input="T", residual="Q", demonstrations=DEMOS[:1])
    assert text == (
        "Decide.\n\nQuestion:\nQ1\n\nYour thoughts:\n2 + 2\n\nAnswer: 4\n\n"
        "Question:\nQ\n\nYour thoughts:\nT\n\nAnswer:"
    )


def test_residual_shows_each_original_text_notes_and_output() -> None:
    text = get_template("residual").render(prompt="Go.", input="N", residual="O", demonstrations=DEMOS[:1])
    assert text == "Original text:\nQ1\n\nNotes so far:\n2 + 2\n\nGo.\n4\n\nOriginal text:\nO\n\nNotes so far:\nN\n\nGo.\n"


def test_an_inline_template_may_show_them() -> None:
    template = inline_template("{% for d in demonstrations %}{{ d.input }}={{ d.output }};{% endfor %}{{ input }}=")
    assert template.render(input="5", demonstrations=DEMOS) == "2 + 2=4;3 + 3=6;5="


def errors(tmp_path: Path, node: str, training: str = "") -> list[str]:
    """`line: path: message` of every error of a one-node spec that must fail to load; the node's
    fields start on line 5."""
    text = (
        "name: t\nmodels: {m: {backend: local}}\nnodes:\n  - kind: lm\n"
        + textwrap.indent(textwrap.dedent(node).strip("\n"), "    ")
        + "\noutput: answer\n" + (f"training: {training}\n" if training else "")
    )
    return [f"{issue.line}: {issue.path}: {issue.message}" for issue in issues(tmp_path, text) if issue.severity == "error"]


def test_a_node_learning_demonstrations_with_a_version_1_template_is_an_error_at_its_line(tmp_path: Path) -> None:
    found = errors(tmp_path, """
        id: answer
        model: m
        prompt: Add.
        template: classify@1
        """, training="{num_demos: 2}")
    assert found == [(
        "8: nodes[0].template: node 'answer' shows demonstrations (num_demos is 2), but its template 'classify@1' never"
        " uses 'demonstrations'; expected a template that shows them: 'classify@2' (the latest 'classify'),"
        " or a template_source that loops over 'demonstrations'"
    )]


def test_given_demonstrations_need_a_template_that_shows_them_too(tmp_path: Path) -> None:
    found = errors(tmp_path, """
        id: answer
        model: m
        prompt: Add.
        template_source: "{{ prompt }} {{ input }}"
        demonstrations:
          - {input: "2 + 2", output: "4"}
        """)
    message = found[0]
    assert message.startswith("8: nodes[0].template_source: node 'answer' shows demonstrations (it is given 1 demonstration)")
    assert "'classify@2', 'classify_residual@2', 'forward@2', 'forward_cot@2', 'residual@2'" in message


def test_more_demonstrations_than_num_demos_is_an_error(tmp_path: Path) -> None:
    found = errors(tmp_path, """
        id: answer
        model: m
        prompt: Add.
        num_demos: 1
        demonstrations:
          - {input: "2 + 2", output: "4"}
          - {input: "3 + 3", output: "6"}
        """)
    assert found == [
        "10: nodes[0].demonstrations: node 'answer' is given 2 demonstrations, more than its num_demos (1); expected at most 1"
    ]


def test_num_demos_is_never_negative_at_a_node_nor_in_the_training_section(tmp_path: Path) -> None:
    found = errors(tmp_path, "id: answer\nmodel: m\nprompt: Add.\nnum_demos: -1", training="{num_demos: -2}")
    assert set(found) == {
        "8: nodes[0].num_demos: expected a value >= 0, found -1",
        "10: training.num_demos: expected a value >= 0, found -2",
    }


def test_a_node_s_num_demos_overrides_the_training_section(tmp_path: Path) -> None:
    """k = 0 at the node: it learns none, so its version 1 template is fine; its sibling is not."""
    found = [issue for issue in issues(tmp_path, """
        name: t
        models: {m: {backend: local}}
        nodes:
          - {kind: lm, id: first, model: m, prompt: Think., template: forward@1}
          - {kind: lm, id: answer, model: m, prompt: Add., template: classify@1, inputs: [first], num_demos: 0}
        output: answer
        training: {num_demos: 3}
        """) if issue.severity == "error"]
    assert [(issue.path, issue.line) for issue in found] == [("nodes[0].template", 4)]
    assert "node 'first' shows demonstrations (num_demos is 3)" in found[0].message


def test_demonstrations_are_written_as_readable_yaml_and_read_back_equal() -> None:
    loaded = load_spec_text(textwrap.dedent("""
        name: t
        models: {m: {backend: local}}
        nodes:
          - {kind: lm, id: answer, model: m, prompt: Add., classes: ["4", "6"]}
        output: answer
        training: {num_demos: 2}
        """))
    node = loaded.spec.nodes[0]
    node.demonstrations = [
        Demonstration(input="2 + 2\nthen what?", output="4", source="train-7"),
        Demonstration(input="3 + 3", output="6", source="train-9"),
    ]
    text = dump_spec(loaded.spec)
    assert (
        "    demonstrations:\n"
        "      - input: |-\n"
        "          2 + 2\n"
        "          then what?\n"
        "        output: '4'\n"
        "        source: train-7\n"
        "      - input: 3 + 3\n"
        "        output: '6'\n"
        "        source: train-9\n"
    ) in text
    assert load_spec_text(text).spec == loaded.spec
