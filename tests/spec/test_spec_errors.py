"""Each kind of spec error, from a broken file: the issue names the right path, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.spec import SpecError, load_spec, load_spec_text
from tests.spec.spec_helpers import issues, load, only_error, write


def test_yaml_syntax_error_points_at_the_yaml_mark(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models:
          fast: {backend: local}
        nodes: [{kind: lm, id: a, model: fast
        output: a
        """,
    )
    assert issue.line == 5  # where PyYAML finds the flow mapping unclosed
    assert issue.file.endswith("net.yaml")
    assert "invalid YAML" in issue.message


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: one
            prompt: two
        output: a
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("nodes[0].prompt", 8, 5)
    assert "duplicate key 'prompt' (first given on line 7)" in issue.message


def test_unknown_field_suggests_the_closest_name(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            promt: Say hi.
        output: a
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("nodes[0].promt", 7, 5)
    assert issue.message == "unknown field 'promt' (did you mean 'prompt'?)"


def test_wrong_type_says_what_was_found_and_expected(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models:
          fast:
            backend: local
            sampling:
              temperature: hot
        nodes: [{kind: lm, id: a, model: fast, prompt: x}]
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("models.fast.sampling.temperature", 6)
    assert issue.message == "expected a number, found string 'hot'"


def test_wrong_type_inside_a_list(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            inputs: [input, 3]
        output: a
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("nodes[0].inputs[1]", 8, 21)
    assert issue.message == "expected a string, found integer 3"


def test_yes_and_no_stay_strings(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: yes, template: classify, classes: [Yes, No]}]
        output: a
        """,
    )
    node = loaded.spec.nodes[0]
    assert node.prompt == "yes"
    assert node.classes == ["Yes", "No"]


def test_unknown_literal_value_lists_the_choices(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: locl}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x}]
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("models.fast.backend", 2)
    assert issue.message == "expected one of 'openai', 'local', found string 'locl' (did you mean 'local'?)"


def test_unknown_node_kind(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: llm
            id: a
        output: a
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("nodes[0].kind", 4, 11)
    assert "unknown kind 'llm', expected one of 'lm', 'vote', 'concat' (did you mean 'lm'?)" == issue.message


def test_missing_required_field(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0]", 4)
    assert issue.message == "missing required field 'model' for kind 'lm'"


def test_missing_output(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x}]
        """,
    )
    assert (issue.path, issue.line) == ("", 1)
    assert issue.message == "missing required field 'output'"


def test_duplicate_node_id(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x}
          - {kind: lm, id: a, model: fast, prompt: y}
        output: a
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("nodes[1].id", 5, 20)
    assert issue.message == "duplicate node id 'a' (already used by nodes[0])"


def test_reserved_id(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: input, model: fast, prompt: x}
        output: input
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].id", 4)
    assert "'input' is reserved" in issue.message


def test_malformed_id(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: 2nd step, model: fast, prompt: x}
        output: 2nd step
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].id", 4)
    assert "invalid node id '2nd step'" in issue.message


def test_unknown_input_node(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: reason, model: fast, prompt: x}
          - kind: lm
            id: answer
            model: fast
            prompt: y
            inputs: [reasn]
        output: answer
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("nodes[1].inputs[0]", 9, 14)
    assert issue.message == "unknown node 'reasn' (did you mean 'reason'?)"


def test_unknown_residual_node(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: answer
            model: fast
            prompt: y
            template: classify_residual
            residual: [question]
        output: answer
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].residual[0]", 9)
    assert "unknown node 'question'" in issue.message


def test_unknown_output_node(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: answer, model: fast, prompt: x}]
        output: anwser
        """,
    )
    assert (issue.path, issue.line, issue.column) == ("output", 4, 9)
    assert issue.message == "output names unknown node 'anwser' (did you mean 'answer'?)"


def test_unknown_model(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}, slow: {backend: local}}
        nodes: [{kind: lm, id: a, model: medium, prompt: x}]
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].model", 3)
    assert issue.message == "unknown model 'medium' (known: fast, slow)"


def test_unknown_backward_model(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}, backward: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x}]
        output: a
        training:
          backward_model: backwards
        """,
    )
    assert (issue.path, issue.line) == ("training.backward_model", 6)
    assert issue.message == "unknown model 'backwards' (did you mean 'backward'?)"


def test_cycle_names_its_nodes(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x, inputs: [input, b]}
          - {kind: lm, id: b, model: fast, prompt: y, inputs: [a]}
        output: b
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].inputs[1]", 4)
    assert issue.message == "cycle: a -> b -> a"


def test_self_loop_is_a_cycle(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x, inputs: [input], residual: [a], template: residual}
        output: a
        """,
    )
    assert issue.path == "nodes[0].residual[0]"
    assert issue.message == "cycle: a -> a"


def test_node_unreachable_from_input_is_an_error(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: idea
            model: fast
            inputs: []
            template_source: "{{ prompt }}"
            prompt: Invent a riddle.
          - {kind: lm, id: answer, model: fast, prompt: Solve it., inputs: [idea]}
        output: answer
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0]", 4)
    assert issue.message == (
        "node 'idea' cannot be reached from the input: it reads no node (empty inputs and residual); "
        "nodes fed only through it: answer"
    )


def test_node_the_output_ignores_is_a_warning(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: unused, model: fast, prompt: x}
          - {kind: lm, id: answer, model: fast, prompt: y}
        output: answer
        """,
    )
    [warning] = loaded.warnings
    assert (warning.severity, warning.path, warning.line) == ("warning", "nodes[0]", 4)
    assert warning.message == "the output does not depend on node 'unused'; it will never run"
    assert str(warning).endswith(
        "net.yaml:4:5: warning: nodes[0]: the output does not depend on node 'unused'; it will never run"
    )


def test_template_needing_residual_sources(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            template: classify_residual
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].template", 8)
    assert "uses 'residual', but node 'a' has none (its 'residual' list is empty)" in issue.message


def test_template_needing_inputs(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            inputs: []
            residual: [input]
            template: forward
        output: a
        """,
    )
    messages = [issue.message for issue in found if issue.severity == "error"]
    assert messages == [
        "template 'forward@2' uses 'input', but node 'a' has none (its 'inputs' list is empty)"
    ]


def test_template_variable_no_node_supplies(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            template_source: "{{ prompt }} {{ question }}"
        output: a
        """,
    )
    assert issue.path == "nodes[0].template_source"
    assert (
        "uses variable 'question', which lm nodes do not supply (they supply: demonstrations, input, prompt, residual)" in issue.message
    )


def test_unknown_template_name(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x, template: clasify}]
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].template", 3)
    assert issue.message == "unknown template 'clasify' (did you mean 'classify'?)"


def test_unknown_template_version(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x, template: classify@9}]
        output: a
        """,
    )
    assert issue.message == "unknown version '9' of template 'classify' (available: classify@1, classify@2)"


def test_unknown_proposal_template_of_a_trainable_node(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x, proposal_template: propose}]
        output: a
        """,
    )
    assert issue.path == "nodes[0].proposal_template"
    assert issue.message.startswith("unknown template 'propose'")


def test_jinja_syntax_error_points_at_the_template_line(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            template_source: |
              {{ input }}
              {{ prompt }
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].template_source", 10)
    assert "line 2: invalid jinja syntax" in issue.message


def test_classes_on_a_node_that_is_not_scored(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x, classes: [Yes, No]}
          - {kind: lm, id: b, model: fast, prompt: y, inputs: [a]}
        output: b
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].classes", 4)
    assert "node 'a' is not scored" in issue.message


def test_malformed_classes(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            template: classify
            classes: [Yes|, No, No|no]
        output: a
        """,
    )
    assert [(issue.path, issue.message) for issue in found] == [
        ("nodes[0].classes[0]", "class 'Yes|' has an empty part: expected 'label|verbalizer|...'"),
        ("nodes[0].classes[2]", "class label 'No' is given twice"),
    ]


def test_vote_inputs_without_classes_or_with_other_labels(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x, template: classify, classes: [Yes, No]}
          - {kind: lm, id: b, model: fast, prompt: x, template: classify, classes: [Right, Wrong]}
          - {kind: lm, id: c, model: fast, prompt: x}
          - {kind: vote, id: v, inputs: [a, b, c]}
        output: v
        """,
    )
    assert [(issue.path, issue.line) for issue in found] == [("nodes[3].inputs[1]", 7), ("nodes[3].inputs[2]", 7)]
    assert "'b' has classes Right, Wrong but 'a' has Yes, No" in found[0].message
    assert found[1].message == "vote 'v' reads 'c', which is not an lm node with classes"


def test_empty_prompt_on_a_trainable_node(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: ""
        output: a
        """,
    )
    assert (issue.path, issue.line) == ("nodes[0].prompt", 7)
    assert (
        issue.message
        == "trainable node 'a' needs an initial prompt: its template 'forward@2' shows 'prompt', which is empty"
    )


def test_empty_prompt_is_fine_on_a_frozen_node(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, trainable: false}]
        output: a
        """,
    )
    assert loaded.warnings == []


def test_numeric_ranges(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models:
          fast:
            backend: local
            sampling: {max_tokens: 0, temperature: -0.5}
            limits: {max_concurrency: 0, requests_per_minute: 0}
        nodes: [{kind: lm, id: a, model: fast, prompt: x, max_tokens: -1}]
        output: a
        training: {batch_size: 0, num_p_samples: 0}
        """,
    )
    assert [(issue.path, issue.line, issue.message) for issue in found] == [
        ("models.fast.sampling.max_tokens", 5, "expected a value >= 1, found 0"),
        ("models.fast.sampling.temperature", 5, "expected a value >= 0, found -0.5"),
        ("models.fast.limits.max_concurrency", 6, "expected a value >= 1, found 0"),
        ("models.fast.limits.requests_per_minute", 6, "expected a value > 0, found 0.0"),
        ("nodes[0].max_tokens", 7, "expected a value >= 1, found -1"),
        ("training.batch_size", 9, "expected a value >= 1, found 0"),
        ("training.num_p_samples", 9, "expected a value >= 1, found 0"),
    ]


def test_a_dev_fraction_of_one_is_refused_by_the_spec_as_by_the_loader(tmp_path: Path) -> None:
    """All of the train file as dev would leave nothing to train on: `validate` says so
    before a run finds out."""
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x}]
        output: a
        data: {source: files, format: jsonl, train: t.jsonl, dev_fraction: 1.0}
        """,
    )
    assert [(issue.path, issue.message) for issue in found] == [
        ("data.dev_fraction", "expected a value >= 0 and < 1, found 1.0"),
    ]


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models:
          fast: {backend: local, sampling: {temprature: 0}}
        nodes:
          - {kind: lm, id: a, model: fast, promt: x}
          - {kind: lm, id: b, model: fast, prompt: y, max_tokens: many}
          - {kind: votes, id: v, inputs: [a, b]}
        output: v
        traning: {}
        """,
    )
    assert [(issue.path, issue.line) for issue in found] == [
        ("models.fast.sampling.temprature", 3),
        ("nodes[0].promt", 5),
        ("nodes[1].max_tokens", 6),
        ("nodes[2].kind", 7),
        ("traning", 9),
    ]


def test_several_semantic_errors_are_reported_together(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fst, prompt: x}
          - {kind: lm, id: b, model: fast, prompt: "", inputs: [a, z]}
        output: b
        training: {iterations: -1}
        """,
    )
    assert [issue.path for issue in found] == [
        "nodes[0].model",
        "nodes[1].prompt",
        "nodes[1].inputs[1]",
        "training.iterations",
    ]


def test_spec_error_text_lists_every_issue(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, promt: x, tempreature: 1}]
        output: a
        """,
    )
    try:
        load_spec(path)
    except SpecError as error:
        lines = str(error).splitlines()
    else:
        raise AssertionError("the spec should not load")
    assert lines == [
        f"{path}:3:40: nodes[0].promt: unknown field 'promt' (did you mean 'prompt'?)",
        f"{path}:3:50: nodes[0].tempreature: unknown field 'tempreature' (did you mean 'temperature'?)",
    ]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    try:
        load_spec(missing)
    except SpecError as error:
        assert str(error) == f"{missing}: file not found"
    else:
        raise AssertionError("a missing file should not load")


def test_document_that_is_not_a_mapping() -> None:
    try:
        load_spec_text("- just\n- a list\n", filename="list.yaml")
    except SpecError as error:
        assert (
            str(error)
            == "list.yaml:1:1: expected a mapping with fields name, models, nodes and output, found a list of 2 items"
        )
    else:
        raise AssertionError("a list should not load")


def test_booleans_are_not_class_names(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes: [{kind: lm, id: a, model: fast, prompt: x, template: classify, classes: [True, False]}]
        output: a
        """,
    )
    assert (issue.path, issue.message) == ("nodes[0].classes[0]", "expected a string, found boolean true")


def test_vote_and_concat_need_inputs(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: concat, id: j, inputs: []}
          - {kind: vote, id: v, inputs: []}
        output: v
        """,
    )
    assert [(issue.path, issue.message) for issue in found if issue.severity == "error"] == [
        ("nodes[0].inputs", "a concat node needs at least one input"),
        ("nodes[1].inputs", "a vote node needs at least one input"),
    ]


def test_vote_reading_an_unknown_node_is_reported_once(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x, classes: [Yes, No]}
          - {kind: vote, id: v, inputs: [a, ghost]}
        output: v
        """,
    )
    assert (issue.path, issue.message) == ("nodes[1].inputs[1]", "unknown node 'ghost' (known: a, input, v)")


def test_concat_template_may_only_use_inputs(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: concat, id: j, inputs: [input], template_source: "{{ input }}"}
        output: j
        """,
    )
    assert issue.path == "nodes[0].template_source"
    assert (
        issue.message
        == "template 'inline' uses variable 'input', which concat nodes do not supply (they supply: inputs)"
    )


def test_sources_listed_twice_or_in_both_lists(tmp_path: Path) -> None:
    found = issues(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - kind: lm
            id: a
            model: fast
            prompt: x
            template: classify_residual
            inputs: [input, input]
            residual: [input]
        output: a
        """,
    )
    assert [(issue.path, issue.message) for issue in found] == [
        ("nodes[0].inputs[1]", "'input' is listed twice in inputs"),
        ("nodes[0].residual[0]", "'input' is already an input of 'a'; list it once"),
    ]


def test_warnings_for_sources_or_prompts_a_template_ignores(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        name: t
        models: {fast: {backend: local}}
        nodes:
          - {kind: lm, id: a, model: fast, prompt: x}
          - kind: lm
            id: b
            model: fast
            prompt: y
            residual: [a]
          - kind: lm
            id: c
            model: fast
            inputs: [b]
            template_source: "Summarize: {{ input }}"
        output: c
        """,
    )
    assert [(warning.path, warning.line) for warning in loaded.warnings] == [
        ("nodes[1].residual", 9),
        ("nodes[2].template_source", 14),
    ]
    assert "never shows 'residual'" in loaded.warnings[0].message
    assert "training cannot change it" in loaded.warnings[1].message


@pytest.mark.parametrize(
    ("model", "where"),
    [("{backend: openai, chat: true, prompts_per_request: 4}", "a chat model"),
     ("{backend: local, prompts_per_request: 4}", "the local backend")],
)
def test_prompt_lists_need_a_completions_endpoint(tmp_path: Path, model: str, where: str) -> None:
    issue = only_error(
        tmp_path,
        f"""
        name: t
        models:
          m: {model}
        nodes: [{{kind: lm, id: a, model: m, prompt: x}}]
        output: a
        """,
    )
    assert issue.path == "models.m.prompts_per_request" and issue.line == 3
    assert where in issue.message and "expected 1" in issue.message


def test_prompts_per_request_is_at_least_one(tmp_path: Path) -> None:
    issue = only_error(
        tmp_path,
        """
        name: t
        models: {m: {backend: openai, prompts_per_request: 0}}
        nodes: [{kind: lm, id: a, model: m, prompt: x}]
        output: a
        """,
    )
    assert issue.path == "models.m.prompts_per_request"
    assert issue.message == "expected a value >= 1, found 0"
