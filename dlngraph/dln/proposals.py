"""Backward prompt proposals: an LLM reads the current prompt with the batch's successes and
errors and writes new candidate prompts.

The examples shown are trimmed to fit the backward model's context window: successes go first,
then errors beyond the first, then the longest texts are shortened in the middle. A request
that cannot fit even then fails with a clear error instead of being dropped.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

import msgspec

from dlngraph.dln.priorities import step_tag
from dlngraph.engine.node_ops import ModelHandle
from dlngraph.engine.waves import gather
from dlngraph.llm.errors import ContextWindowExceeded
from dlngraph.llm.types import GenerateRequest
from dlngraph.spec.templates import Template


class Shown(msgspec.Struct, kw_only=True):
    """One example as a proposal template sees it."""

    input: str
    output: str
    target: str
    correct: bool

    def as_variables(self) -> dict[str, str]:
        return {"input": self.input, "output": self.output, "target": self.target}


class ProposalSettings(msgspec.Struct, kw_only=True):
    count: int
    temperature: float
    max_tokens: int
    seed: int


def render_proposal(template: Template, prompt: str, shown: Sequence[Shown], message: str) -> str:
    return template.render(
        prompt=prompt,
        successes=[example.as_variables() for example in shown if example.correct],
        errors=[example.as_variables() for example in shown if not example.correct],
        message=message,
    )


def fit_examples(
    shown: list[Shown], prompt_tokens: Callable[[list[Shown]], int], *, answer_tokens: int, window: int,
    max_shortenings: int = 6,
) -> list[Shown]:
    """The largest selection of `shown` (errors kept longest) whose prompt, by
    `prompt_tokens(selection)`, leaves `answer_tokens` of room in a `window` of tokens."""

    def fits(selection: list[Shown]) -> bool:
        return prompt_tokens(selection) + answer_tokens <= window

    selection = list(shown)
    while not fits(selection) and any(example.correct for example in selection) and len(selection) > 1:
        last_success = max(index for index, example in enumerate(selection) if example.correct)
        del selection[last_success]
    while not fits(selection) and len(selection) > 1:
        del selection[-1]
    for _ in range(max_shortenings):
        if fits(selection):
            return selection
        selection = [_shorten(example) for example in selection]
    if fits(selection):
        return selection
    needed = prompt_tokens(selection)
    raise ContextWindowExceeded(
        f"the proposal prompt takes {needed} tokens with one shortened example and the new prompt up to"
        f" {answer_tokens}, more than the backward model's context window of {window}; use a model with"
        " a larger context window, shorter prompts or a smaller proposal_max_tokens",
        prompt_tokens=needed,
        context_window=window,
    )


def _shorten(example: Shown) -> Shown:
    return Shown(input=_halve(example.input), output=_halve(example.output), target=_halve(example.target), correct=example.correct)


def _halve(text: str, keep_at_least: int = 40) -> str:
    if len(text) <= keep_at_least:
        return text
    keep = max(keep_at_least, len(text) // 2)
    head = keep // 2
    return text[:head] + " [...] " + text[len(text) - (keep - head):]


_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
"""Small models often answer with a list item ("- ...", "1. ..."): the marker is not the prompt."""


def clean_proposal(text: str) -> str:
    """The new prompt alone: first paragraph, without quotes or a leading label."""
    text = text.strip().split("\n\n")[0].strip()
    for label in ("New instruction:", "Instruction:", "Improved instruction:", "Prompt:"):
        if text.lower().startswith(label.lower()):
            text = text[len(label):].strip()
    text = _LIST_MARKER.sub("", text, count=1)
    return text.strip().strip('"').strip("'").strip()


async def propose_prompts(
    *,
    model: ModelHandle,
    count_tokens: Callable[[str], int],
    context_window: int | None,
    template: Template,
    prompt: str,
    shown: list[Shown],
    settings: ProposalSettings,
    rng: random.Random,
    node: str,
) -> list[str]:
    """Sample `settings.count` new prompts, each with its own message alternative."""
    messages = list(template.messages) or [""]
    offset = rng.randrange(len(messages))

    def prompt_tokens(selection: list[Shown]) -> int:
        """The prompt's tokens with its longest message: every request must fit."""
        return count_tokens(render_proposal(template, prompt, selection, max(messages, key=len)))

    selection = (
        shown if context_window is None
        else fit_examples(shown, prompt_tokens, answer_tokens=settings.max_tokens, window=context_window)
    )
    requests = [
        GenerateRequest(
            prompt=render_proposal(template, prompt, selection, messages[(offset + k) % len(messages)]),
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            seed=settings.seed + k,
            sample_index=k,
        )
        for k in range(settings.count)
    ]
    tag = step_tag(node, "proposal")
    generations = await gather(model.generate(request, tag=tag) for request in requests)
    return [clean_proposal(generation.text) for generation in generations]


def unique_candidates(current: str, proposals: Sequence[str], memory: Sequence[str]) -> list[str]:
    """Current prompt first (ties keep it), then new proposals, then remembered prompts."""
    return list(dict.fromkeys(candidate for candidate in [current, *proposals, *memory] if candidate.strip() or candidate == current))
