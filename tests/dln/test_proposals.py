"""Backward prompt proposals: what the proposal model is shown, and how it is trimmed to fit."""

from __future__ import annotations

import pytest

from dlngraph.dln.proposals import Shown, clean_proposal, fit_examples, render_proposal
from dlngraph.llm.errors import ContextWindowExceeded
from dlngraph.spec.templates import get_template


def shown(count: int, *, correct: int, length: int = 20) -> list[Shown]:
    return [
        Shown(input=f"question {i} " + "x" * length, output="Yes", target="Yes" if i < correct else "No", correct=i < correct)
        for i in range(count)
    ]


def test_the_template_shows_successes_errors_and_the_message() -> None:
    text = render_proposal(get_template("proposal"), "OLD PROMPT", shown(3, correct=1), "Be clearer.")
    assert "OLD PROMPT" in text and "Be clearer." in text
    assert text.index("answered these correctly") < text.index("question 0") < text.index("answered these wrongly")
    assert "Correct answer: No" in text


def counted(count):
    """An async token counter from a plain function of the selection."""

    async def prompt_tokens(selection: list[Shown]) -> int:
        return count(selection)

    return prompt_tokens


async def test_successes_are_dropped_before_errors_when_the_window_is_small() -> None:
    examples = shown(6, correct=3)
    kept = await fit_examples(examples, counted(lambda selection: 10 * len(selection)), answer_tokens=5, window=45)  # 4 examples
    assert len(kept) == 4
    assert sum(not example.correct for example in kept) == 3  # every error is kept


async def test_long_examples_are_shortened_rather_than_dropped() -> None:
    examples = shown(1, correct=0, length=4000)
    (kept,) = await fit_examples(
        examples, counted(lambda selection: sum(len(example.input) for example in selection)), answer_tokens=0, window=599
    )
    assert len(kept.input) < 600 and "[...]" in kept.input
    assert kept.input.startswith("question 0")


async def test_a_request_that_can_never_fit_is_a_clear_error() -> None:
    with pytest.raises(ContextWindowExceeded, match="takes 1000 tokens .* up to 16, .* context window of 64") as caught:
        await fit_examples(shown(2, correct=1), counted(lambda selection: 1000), answer_tokens=16, window=64)
    assert (caught.value.prompt_tokens, caught.value.context_window) == (1000, 64)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  New instruction: Count the steps.\n\nExtra chatter", "Count the steps."),
        ('"Answer Yes or No."', "Answer Yes or No."),
        ("Instruction: Track the position.", "Track the position."),
        ("- Count every step.", "Count every step."),
        ("1. Read the moves.", "Read the moves."),
    ],
)
def test_a_proposal_is_reduced_to_the_new_prompt(raw: str, clean: str) -> None:
    assert clean_proposal(raw) == clean
