"""Built-in templates: versions, variable contracts, rendering and clear errors."""

from __future__ import annotations

import pytest

from dlngraph.spec.templates import (
    CONCAT_VARIABLES,
    FORWARD_VARIABLES,
    POSTERIOR_VARIABLES,
    PROPOSAL_VARIABLES,
    TemplateError,
    available_templates,
    get_template,
    inline_template,
)

FORWARD = ["forward", "forward_cot", "classify", "classify_residual", "residual"]


def test_every_shipped_template_is_listed() -> None:
    assert set(available_templates()) == {
        *(f"{name}@{version}" for name in FORWARD for version in (1, 2)),
        *(f"{name}@1" for name in ["concat", "proposal", "posterior"]),
    }


@pytest.mark.parametrize("name", FORWARD)
def test_forward_templates_use_only_the_forward_variables(name: str) -> None:
    template = get_template(name)
    assert template.variables <= FORWARD_VARIABLES
    assert {"prompt", "input"} <= template.variables
    assert template.description


def test_residual_templates_read_the_residual() -> None:
    assert "residual" in get_template("classify_residual").variables
    assert "residual" in get_template("residual").variables
    assert "residual" not in get_template("classify").variables


def test_backward_templates_match_their_contracts() -> None:
    assert get_template("proposal").variables == PROPOSAL_VARIABLES
    assert get_template("posterior").variables == POSTERIOR_VARIABLES
    assert get_template("concat").variables == CONCAT_VARIABLES


def test_forward_renders_input_then_prompt() -> None:
    text = get_template("forward").render(prompt="Summarize.", input="A long text.", residual="")
    assert text == "A long text.\n\nSummarize.\n"


def test_classify_ends_right_after_the_answer_cue() -> None:
    text = get_template("classify").render(prompt="Is it even?", input="4")
    assert text.startswith("Is it even?")
    assert text.endswith("4\nAnswer:")


def test_classify_residual_shows_question_and_thoughts() -> None:
    text = get_template("classify_residual").render(prompt="Decide.", input="I think so.", residual="Is 4 even?")
    assert text.index("Is 4 even?") < text.index("I think so.") < text.index("Answer:")
    assert text.endswith("Answer:")


def test_forward_cot_adds_a_reasoning_cue_after_the_prompt() -> None:
    text = get_template("forward_cot").render(prompt="Solve it.", input="2+2?")
    assert text.index("2+2?") < text.index("Solve it.")
    assert len(text.split("Solve it.")[1].strip()) > 0


def test_concat_joins_texts_with_blank_lines() -> None:
    assert get_template("concat").render(inputs=["one", "two", "three"]) == "one\n\ntwo\n\nthree"


def test_proposal_shows_cases_and_ends_with_the_new_instruction_cue() -> None:
    template = get_template("proposal")
    assert len(template.messages) >= 3
    text = template.render(
        prompt="Answer Yes or No.",
        successes=[{"input": "moves A", "output": "Yes", "target": "Yes"}],
        errors=[{"input": "moves B", "output": "Yes", "target": "No"}],
        message=template.messages[0],
    )
    assert "Answer Yes or No." in text and "moves A" in text and "moves B" in text
    assert text.index("moves A") < text.index("moves B") < text.index(template.messages[0])
    assert text.rstrip().endswith("New instruction:")


def test_proposal_without_successes_leaves_out_their_section() -> None:
    template = get_template("proposal")
    text = template.render(prompt="P", successes=[], errors=[{"input": "i", "output": "o", "target": "t"}], message="M")
    assert "correctly" not in text
    assert "Correct answer: t" in text


def test_posterior_shows_everything_and_asks_for_new_notes() -> None:
    text = get_template("posterior").render(input="X", prompt="P1", h="old notes", next_prompt="P2", target="Yes")
    for part in ["X", "P1", "old notes", "P2", "Yes"]:
        assert part in text
    assert text.rstrip().endswith("New notes:")


def test_latest_and_pinned_versions_are_the_same_template() -> None:
    assert get_template("forward") == get_template("forward@2")
    assert get_template("forward").ref == "forward@2"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("fowrard", "unknown template 'fowrard' (did you mean 'forward'?)"),
        ("zzz", "unknown template 'zzz' (built-in templates: classify, "),
        ("forward@3", "unknown version '3' of template 'forward' (available: forward@1, forward@2)"),
        ("forward@one", "unknown version 'one' of template 'forward'"),
    ],
)
def test_unknown_references(ref: str, message: str) -> None:
    with pytest.raises(TemplateError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        get_template(ref)


def test_missing_variable_names_template_and_variable() -> None:
    with pytest.raises(TemplateError) as raised:
        get_template("classify").render(prompt="p")
    assert str(raised.value) == "template 'classify@2' needs variable 'input', which was not given (given: prompt)"


def test_inline_template_reports_its_syntax_error_line() -> None:
    with pytest.raises(TemplateError) as raised:
        inline_template("first line\n{% for x in %}\n")
    assert raised.value.line == 2
    assert "template 'inline' line 2: invalid jinja syntax" in str(raised.value)


def test_inline_template_collects_variables_and_renders() -> None:
    template = inline_template("{{ prompt }}: {{ input | upper }}", name="shout")
    assert template.variables == {"prompt", "input"}
    assert template.render(prompt="Say", input="hi") == "Say: HI"


def test_sandbox_blocks_unsafe_attribute_access() -> None:
    with pytest.raises(TemplateError, match="refused by the sandbox"):  # seen on sample text, when read
        inline_template("{{ input.__class__.__mro__ }}")
    template = inline_template("{% if input == 'y' %}{{ input.__class__.__mro__ }}{% endif %}")  # not on sample text
    with pytest.raises(TemplateError, match="failed to render"):
        template.render(input="y")


def test_strict_undefined_attributes_fail_clearly() -> None:
    template = get_template("proposal")
    with pytest.raises(TemplateError, match="template 'proposal@1' failed to render"):
        template.render(prompt="p", successes=[{"input": "i"}], errors=[], message="m")
