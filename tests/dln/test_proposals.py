"""Backward prompt proposals: what the proposal model is shown, and how it is trimmed to fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlngraph.dln.proposals import (
    PARAGRAPH_BREAK,
    Shown,
    clean_proposal,
    fit_examples,
    render_proposal,
    write_first_paragraph,
)
from dlngraph.llm.errors import ContextWindowExceeded
from dlngraph.llm.types import GenerateRequest, Generation, Tag, Usage
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


GEMMA = json.loads((Path(__file__).parent / "fixtures" / "gemma_proposals.json").read_text())["proposals"]


@pytest.mark.parametrize("proposal", GEMMA, ids=[f"{p['task']}-{i}" for i, p in enumerate(GEMMA)])
def test_real_proposals_of_the_embedded_model_are_cleaned(proposal: dict) -> None:
    assert clean_proposal(proposal["raw"], proposal["shown"]) == proposal["clean"]


def test_nothing_of_the_template_or_the_shown_examples_survives_cleaning() -> None:
    for proposal in GEMMA:
        clean = proposal["clean"]
        assert not any(line.startswith(("Input:", "Answer:", "Correct answer:", "New instruction")) for line in clean.splitlines())
        assert not any(example in clean for example in proposal["shown"])
        assert len(clean.splitlines()) == len(set(clean.splitlines()))
    assert sum(not proposal["clean"] for proposal in GEMMA) >= 8  # most of a 270M model's proposals are examples


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Please analyze the review for tone.\nHere's your instruction in different words:\nPlease analyze the review for tone.",
         "Please analyze the review for tone."),
        ("Sure! Here is a clearer instruction:\n\n**Decide whether the review is positive or negative.**\n\nThis works because",
         "Decide whether the review is positive or negative."),
        ("Okay.\n“Count only the fruits.”", "Count only the fruits."),
        ("Improved prompt 2: Track each move.", "Track each move."),
        ("Decide Yes or No.\nThe moves: Take 3 steps.\nAnswer: Yes", ""),
        ("Follow every move.\n\nInput: Take 2 steps.\nAnswer: No", "Follow every move."),
        ("The walker takes 3 steps north and 3 steps south.", ""),
    ],
)
def test_lead_ins_echoes_and_copies_are_removed(raw: str, clean: str) -> None:
    assert clean_proposal(raw, shown=["Q: The walker takes 3 steps north and 3 steps south. Back?"]) == clean



class Writes:
    """A model that writes `completion` after any prompt and stops at the first stop string:
    as a sampled generation with a fixed seed does, whose text stopped at a string is the
    prefix of the one that was not."""

    def __init__(self, completion: str) -> None:
        self.completion = completion
        self.requests: list[GenerateRequest] = []

    async def generate(self, request: GenerateRequest, *, tag: Tag | None = None) -> Generation:
        self.requests.append(request)
        stops = [self.completion.find(stop) for stop in request.stop if stop in self.completion]
        text, reason = (self.completion[: min(stops)], "stop") if stops else (self.completion, "length")
        return Generation(texts=[text], finish_reasons=[reason], usage=Usage(completion_tokens=len(text.split())))


async def first_paragraph(completion: str, shown: list[str] | None = None) -> tuple[str, Writes]:
    model = Writes(completion)
    request = GenerateRequest(prompt="New instruction:\n", max_tokens=96, temperature=0.7, seed=3)
    return await write_first_paragraph(model, request, tag=Tag(node="n"), shown=shown or []), model


@pytest.mark.parametrize("proposal", GEMMA, ids=[f"{p['task']}-{i}" for i, p in enumerate(GEMMA)])
async def test_stopping_at_the_first_paragraph_gives_what_cleaning_the_whole_text_gives(proposal: dict) -> None:
    written, _ = await first_paragraph(proposal["raw"], proposal["shown"])
    assert written == proposal["clean"]


async def test_generation_stops_after_the_first_paragraph_with_content() -> None:
    written, model = await first_paragraph("Decide whether the review is positive.\n\nThis works because it is short.")
    assert written == "Decide whether the review is positive."
    assert [request.stop for request in model.requests] == [(PARAGRAPH_BREAK,)]


async def test_after_a_lead_in_paragraph_the_whole_completion_is_asked_for() -> None:
    written, model = await first_paragraph("Sure! Here is a clearer instruction:\n\n**Count the steps.**\n\nThis works because")
    assert written == "Count the steps."
    assert [request.stop for request in model.requests] == [(PARAGRAPH_BREAK,), ()]
    assert model.requests[1] == GenerateRequest(prompt="New instruction:\n", max_tokens=96, temperature=0.7, seed=3)


async def test_an_echo_of_the_template_ends_the_proposal_without_asking_for_more() -> None:
    written, model = await first_paragraph("Answer: Yes\n\nCount the steps.")
    assert written == ""
    assert len(model.requests) == 1
