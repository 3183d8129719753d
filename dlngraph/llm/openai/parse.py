"""Reading OpenAI-schema response bodies into results: texts, echo scores, top logprobs.

Pure functions of the decoded JSON, so the subtle parts (which echoed tokens belong to the
target, where the top logprobs are) can be read and tested in isolation. A body
that lacks what the schema promises raises `MalformedResponse`, which the backend reports as a
`TransientError` like any other garbled answer.
"""

from __future__ import annotations

import re
from typing import Any

from dlngraph.llm.types import Usage


class MalformedResponse(Exception):
    """The body is JSON but not shaped like the OpenAI schema."""


def usage_of(data: dict[str, Any]) -> Usage:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )


def choices_of(data: dict[str, Any], expected: int = 1) -> list[dict[str, Any]]:
    """The choices in index order; at least `expected` of them."""
    choices = data.get("choices")
    if not isinstance(choices, list) or len(choices) < expected:
        raise MalformedResponse(f"expected {expected} choice(s), got {choices!r:.200}")
    if not all(isinstance(choice, dict) for choice in choices):
        raise MalformedResponse("a choice is not an object")
    return sorted(choices, key=lambda choice: choice.get("index", 0))


def completion_texts(data: dict[str, Any], n: int) -> tuple[list[str], list[str | None]]:
    choices = choices_of(data, n)
    texts = [require_str(choice.get("text"), "choices[].text") for choice in choices]
    return texts, [choice.get("finish_reason") for choice in choices]


def chat_texts(data: dict[str, Any], n: int) -> tuple[list[str], list[str | None]]:
    choices = choices_of(data, n)
    texts = []
    for choice in choices:
        message = choice.get("message")
        if not isinstance(message, dict):
            raise MalformedResponse("choices[].message is missing")
        texts.append(message.get("content") or "")  # null content: the model said nothing
    return texts, [choice.get("finish_reason") for choice in choices]


_INTEGER = re.compile(r"\d+")


def logprobs_cap(detail: str | None, asked: int) -> int | None:
    """The most top logprobs a server allows, read from its refusal of `asked` of them, or None
    if `detail` is no such refusal. Servers word it differently (vLLM: "Requested sample
    logprobs of 100, which is greater than max allowed: 20"; OpenAI: "Expected a value <= 20,
    but got 100"), but all name the cap: the largest number below `asked` in the message."""
    if not detail or "logprobs" not in detail.lower():
        return None
    below = [number for number in map(int, _INTEGER.findall(detail)) if 0 < number < asked]
    return max(below) if below else None


def echo_target_logprobs(data: dict[str, Any], start: int, end: int) -> list[float | None]:
    """Logprobs of the echoed tokens covering characters [start, end) of the prompt.

    A token spans from its `text_offset` to the next token's offset, so a token straddling
    `start` (the context's last characters fused with the target's first) is included: its
    logprob is the closest thing to the target's. Tokens from `end` on (the one generated
    token we had to ask for) are dropped. Without `text_offset`, offsets are rebuilt from the
    token strings. The first token of a prompt has no logprob (None): nothing precedes it.
    """
    logprobs = choices_of(data)[0].get("logprobs")
    if not isinstance(logprobs, dict):
        raise MalformedResponse("choices[0].logprobs is missing (does the server support echo?)")
    tokens = logprobs.get("tokens")
    token_logprobs = logprobs.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(token_logprobs, list):
        raise MalformedResponse("logprobs.tokens or logprobs.token_logprobs is missing")
    if len(tokens) != len(token_logprobs):
        raise MalformedResponse("logprobs.tokens and logprobs.token_logprobs differ in length")
    offsets = logprobs.get("text_offset") or cumulative_offsets(tokens)
    if len(offsets) != len(tokens):
        raise MalformedResponse("logprobs.text_offset and logprobs.tokens differ in length")
    selected = []
    for position, offset in enumerate(offsets):
        token_end = offsets[position + 1] if position + 1 < len(offsets) else end
        if offset < end and token_end > start:
            selected.append(token_logprobs[position])
    return selected


def cumulative_offsets(tokens: list[str]) -> list[int]:
    offsets, position = [], 0
    for token in tokens:
        offsets.append(position)
        position += len(token)
    return offsets


def completion_top_logprobs(data: dict[str, Any]) -> list[tuple[str, float]]:
    """Top logprobs of the first generated token, legacy completions format ({token: lp})."""
    logprobs = choices_of(data)[0].get("logprobs")
    if not isinstance(logprobs, dict):
        raise MalformedResponse("choices[0].logprobs is missing")
    top = logprobs.get("top_logprobs")
    if not isinstance(top, list):
        raise MalformedResponse("logprobs.top_logprobs is missing")
    if not top or top[0] is None:
        return []
    if not isinstance(top[0], dict):
        raise MalformedResponse("logprobs.top_logprobs[0] is not an object")
    return [(str(token), float(logprob)) for token, logprob in top[0].items()]


def chat_top_logprobs(data: dict[str, Any]) -> list[tuple[str, float]]:
    """Top logprobs of the first generated token, chat format ([{token, logprob}])."""
    logprobs = choices_of(data)[0].get("logprobs")
    if not isinstance(logprobs, dict):
        raise MalformedResponse("choices[0].logprobs is missing (does the server support it?)")
    content = logprobs.get("content") or []
    if not content:
        return []
    top = content[0].get("top_logprobs") if isinstance(content[0], dict) else None
    if not isinstance(top, list):
        raise MalformedResponse("logprobs.content[0].top_logprobs is missing")
    return [(str(entry["token"]), float(entry["logprob"])) for entry in top]


def require_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise MalformedResponse(f"{where} is not a string")
    return value
