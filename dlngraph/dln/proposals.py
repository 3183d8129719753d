"""Backward prompt proposals: an LLM reads the current prompt with the batch's successes and
errors and writes new candidate prompts.

The examples shown are trimmed to fit the backward model's context window: successes go first,
then errors beyond the first, then the longest texts are shortened in the middle. A request
that cannot fit even then fails with a clear error instead of being dropped.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, Sequence

import msgspec

from dlngraph.dln.phases import Phase
from dlngraph.dln.priorities import step_tag
from dlngraph.engine.node_ops import ModelHandle
from dlngraph.engine.waves import gather
from dlngraph.llm.errors import ContextWindowExceeded
from dlngraph.llm.types import GenerateRequest, Tag
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


async def fit_examples(
    shown: list[Shown], prompt_tokens: Callable[[list[Shown]], Awaitable[int]], *, answer_tokens: int, window: int,
    max_shortenings: int = 6,
) -> list[Shown]:
    """The largest selection of `shown` (errors kept longest) whose prompt, by
    `await prompt_tokens(selection)`, leaves `answer_tokens` of room in a `window` of tokens."""

    async def fits(selection: list[Shown]) -> bool:
        return await prompt_tokens(selection) + answer_tokens <= window

    selection = list(shown)
    while not await fits(selection) and any(example.correct for example in selection) and len(selection) > 1:
        last_success = max(index for index, example in enumerate(selection) if example.correct)
        del selection[last_success]
    while not await fits(selection) and len(selection) > 1:
        del selection[-1]
    for _ in range(max_shortenings):
        if await fits(selection):
            return selection
        selection = [_shorten(example) for example in selection]
    if await fits(selection):
        return selection
    needed = await prompt_tokens(selection)
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


_LIST_MARKER = re.compile(r"^(?:[-*•]|\(?\d+[.):]|\(?[a-z][.)])\s+")
"""Small models often answer with a list item ("- ...", "1. ...", "a) ..."): the marker is not the prompt."""

_LABEL = re.compile(
    r"^(?:(?:the\s+)?(?:new|improved|better|clearer|shorter|revised|rewritten|final|updated)\s+)?"
    r"(?:instruction|prompt)s?\s*(?:\d+\s*)?:\s*",
    re.IGNORECASE,
)
"""A label before the instruction on its own line: "New instruction:", "Improved prompt 2:"."""

_LEAD_IN = re.compile(
    r"^(?:(?:sure|okay|ok|certainly|of course|absolutely)\b.*|here(?:'s|\s+is|\s+are)\b.*"
    r"|.*\b(?:instruction|prompt|version|rewrite|rephrasing|words)\b.*:)$",
    re.IGNORECASE,
)
"""A line that introduces the answer instead of being it: "Here's your instruction in different
words:", "Sure! Here is a clearer version:", "Okay.", "A shorter instruction:"."""

_TEMPLATE_LINE = re.compile(
    r"^(?:input|answer|correct answer|output|question|example\s*\d*)\s*:"
    r"|^(?:a language model was given|it answered these|write a (?:clearer|better|shorter)|say the instruction)",
    re.IGNORECASE,
)
"""Where the proposal template's own lines start (`proposal@1`): an example or the meta-prompt
copied back. The instruction ends before the first of them."""

_WRAPPERS = ('"', "'", "`", "*", "“", "”", "‘", "’", "_")


def clean_proposal(text: str, shown: Sequence[str] = ()) -> str:
    """The new instruction alone, or "" when nothing of it is left (the caller drops it).

    Removed: lead-ins ("Here's a clearer instruction:") and labels ("New instruction:"), list
    markers, quotes and markdown emphasis around a line, lines repeated, lines copied from the
    `shown` examples' inputs, and everything from the first line that echoes the proposal
    template ("Input:", "Answer:", the meta-prompt), together with the paragraph that line
    ends: an example, its question above its answer. Only the first paragraph of what is
    left is kept: small models add explanations after it."""
    return _clean(text, shown)[0]


def _clean(text: str, shown: Sequence[str]) -> tuple[str, bool]:
    """`clean_proposal`'s result, and whether an echo of the template ended the text (then
    nothing written after it could change the result)."""
    lines: list[str] = []
    echoed = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = _strip_decorations(raw)
        if _TEMPLATE_LINE.match(line):
            while lines and lines[-1] != "":  # the example this line belongs to
                lines.pop()
            echoed = True
            break
        line = _LABEL.sub("", line).strip()
        if not line or _LEAD_IN.match(line):
            if lines and lines[-1] != "":
                lines.append("")  # a paragraph break
            continue
        line = _strip_decorations(line)
        if line and line not in lines and not _copied(line, shown):
            lines.append(line)
    paragraphs = "\n".join(lines).strip().split("\n\n")
    return paragraphs[0].strip(), echoed


_COPY_MIN_CHARS = 20
"""A line this long that appears in a shown example is a copy, not an instruction."""


def _copied(line: str, shown: Sequence[str]) -> bool:
    return len(line) >= _COPY_MIN_CHARS and any(line in example or example in line for example in shown)


def _strip_decorations(line: str) -> str:
    """A line without its list marker and the quotes or emphasis around it."""
    line = _LIST_MARKER.sub("", line.strip(), count=1)
    while len(line) >= 2 and line[0] in _WRAPPERS and line[-1] in _WRAPPERS:
        line = line[1:-1].strip()
    return line.strip().strip('"“”`').strip()


async def propose_prompts(
    *,
    model: ModelHandle,
    count_tokens: Callable[[str], Awaitable[int]],
    context_window: int | None,
    template: Template,
    prompt: str,
    shown: list[Shown],
    settings: ProposalSettings,
    rng: random.Random,
    node: str,
    written: Callable[[str], Awaitable[object]] | None = None,
) -> list[str]:
    """Sample `settings.count` new prompts, each with its own message alternative, each cleaned
    (`clean_proposal`: "" when nothing of it is left, for the caller to drop and count).

    `written(proposal)` is awaited for each non-empty proposal as soon as it is cleaned, before
    the others are back: the caller starts scoring it there, with no barrier on the slowest."""
    messages = list(template.messages) or [""]
    offset = rng.randrange(len(messages))

    async def prompt_tokens(selection: list[Shown]) -> int:
        """The prompt's tokens with its longest message: every request must fit."""
        return await count_tokens(render_proposal(template, prompt, selection, max(messages, key=len)))

    selection = (
        shown if context_window is None
        else await fit_examples(shown, prompt_tokens, answer_tokens=settings.max_tokens, window=context_window)
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
    tag = step_tag(node, Phase.PROPOSAL)
    inputs = [example.input for example in selection]

    async def propose(request: GenerateRequest) -> str:
        proposal = await write_first_paragraph(model, request, tag=tag, shown=inputs)
        if proposal and written is not None:
            await written(proposal)
        return proposal

    return await gather(propose(request) for request in requests)


PARAGRAPH_BREAK = "\n\n"
"""Where a proposal's generation stops first: `clean_proposal` keeps only the first paragraph
with content, so every token after it is wasted. On the demo, 80 of 84 proposals ran to
`proposal_max_tokens` and 58% of their text came after that paragraph."""


async def write_first_paragraph(model: ModelHandle, request: GenerateRequest, *, tag: Tag, shown: Sequence[str]) -> str:
    """`clean_proposal` of `request`'s completion, generated only up to its first paragraph
    break when that settles it. A sampled completion stopped at a string is the prefix of the
    one that was not, and nothing after a paragraph with content (or after an echo of the
    template) changes the cleaned proposal. A first paragraph that cleans to nothing ("Sure!
    Here is a clearer instruction:") is not enough: then `request` is asked whole, as it is
    written, with no stop added, which also suits chat models (a chat cannot be continued
    from the middle of its answer)."""
    first = await model.generate(msgspec.structs.replace(request, stop=(*request.stop, PARAGRAPH_BREAK)), tag=tag)
    proposal, echoed = _clean(first.text, shown)
    if proposal or echoed or first.finish_reasons[0] != "stop":
        return proposal
    return clean_proposal((await model.generate(request, tag=tag)).text, shown)


def unique_candidates(current: str, proposals: Sequence[str], memory: Sequence[str]) -> list[str]:
    """Current prompt first (ties keep it), then new proposals, then remembered prompts."""
    return list(dict.fromkeys(candidate for candidate in [current, *proposals, *memory] if candidate.strip() or candidate == current))
