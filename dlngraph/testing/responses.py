"""OpenAI-schema response bodies of the scripted server, built from a request body and a Script.

Pure functions of (script, request body): no sockets, no clock other than `created`, so the
wire format can be read in one place. Validation errors raise `RequestError`, which the server
turns into an OpenAI-style error body with the given status.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dlngraph.testing.model import (
    RunningLogprobs,
    count_tokens,
    default_text,
    token_spans,
    top_alternatives,
)
from dlngraph.testing.script import ScoredTarget, Script

COMPLETIONS_DEFAULT_MAX_TOKENS = 16
"""The legacy completions endpoint's default; chat completions default to no limit."""

MAX_TOP_LOGPROBS = 20
"""The default cap on top logprobs, as vLLM's `--max-logprobs` and OpenAI's chat API have it;
`ScriptedServer(max_logprobs=...)` sets another."""
MAX_N = 128

ERROR_TYPES = {401: "authentication_error", 404: "not_found_error", 429: "rate_limit_error"}


class RequestError(Exception):
    """A request the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, param: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.param, self.code)


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    default_type = "server_error" if status >= 500 else "invalid_request_error"
    error_type = ERROR_TYPES.get(status, default_type)
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def context_window_error(body: dict[str, Any], context_window: int) -> RequestError | None:
    """A request whose prompt and `max_tokens` exceed `context_window`, refused in the words,
    status and code of llama-cpp-python's server (llama_cpp.server 0.3.36; OpenAI's own differ
    only in wording): 400, `context_length_exceeded`."""
    if isinstance(body.get("messages"), list):
        texts = [str(message.get("content", "")) for message in body["messages"] if isinstance(message, dict)]
    else:
        prompt = body.get("prompt", "")
        texts = prompt if isinstance(prompt, list) else [prompt]
    prompt_tokens = max((count_tokens(str(text)) for text in texts), default=0)
    wanted = body.get("max_tokens") if isinstance(body.get("max_tokens"), int) else 0
    if prompt_tokens + wanted <= context_window:
        return None
    message = (f"This model's maximum context length is {context_window} tokens, however you requested"
               f" {prompt_tokens + wanted} tokens ({prompt_tokens} in your prompt; {wanted} for the completion)."
               " Please reduce your prompt; or completion length.")
    return RequestError(400, message, "messages", code="context_length_exceeded")


@dataclass(slots=True)
class Sampling:
    max_tokens: int | None
    temperature: float
    n: int
    stop: tuple[str, ...]
    seed: int | None


@dataclass(slots=True)
class Sample:
    text: str
    finish_reason: str
    spans: list[tuple[str, int]]
    """Tokens of `text` and their offsets within it."""
    first_top: tuple[tuple[str, float], ...] | None
    """Scripted top logprobs of the first token, if a class rule matched."""


def completion_prompts(body: dict[str, Any]) -> list[str]:
    """The prompts of a completions request: one string, or a non-empty list of strings."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(item, str) for item in prompt):
        return prompt
    raise RequestError(400, "'prompt' must be a string or a non-empty list of strings.", "prompt")


def completions_body(script: Script, body: dict[str, Any], model: str, max_logprobs: int = MAX_TOP_LOGPROBS) -> dict[str, Any]:
    """The answer to every prompt of the request, `n` choices each, indexed prompt x n + sample
    (as OpenAI and vLLM number them), with the usage summed over the prompts."""
    prompts = completion_prompts(body)
    for prompt in prompts:
        raise_scripted_failure(script, prompt)
    sampling = read_sampling(body, default_max_tokens=COMPLETIONS_DEFAULT_MAX_TOKENS)
    echo = body.get("echo") is True
    top_k = read_top_logprobs(body, "logprobs", max_logprobs)
    choices: list[dict[str, Any]] = []
    prompt_tokens = completion_tokens = 0
    for position, prompt in enumerate(prompts):
        scored = script.scored_target_for(prompt) if echo and top_k is not None else None
        prompt_tokens += count_tokens(prompt)
        for index in range(sampling.n):
            sample = draw_sample(script, prompt, sampling, draw_index(sampling, position, index), leading_space=True)
            completion_tokens += len(sample.spans)
            logprobs = None
            if top_k is not None:
                logprobs = completion_logprobs(prompt, sample, top_k, echo=echo, scored=scored)
            choices.append(
                {
                    "text": prompt + sample.text if echo else sample.text,
                    "index": position * sampling.n + index,
                    "logprobs": logprobs,
                    "finish_reason": sample.finish_reason,
                }
            )
    return envelope("text_completion", body, model, choices, usage_body(prompt_tokens, completion_tokens))


def chat_body(script: Script, body: dict[str, Any], model: str, max_logprobs: int = MAX_TOP_LOGPROBS) -> dict[str, Any]:
    contents = read_message_contents(body)
    last_message = contents[-1]
    raise_scripted_failure(script, last_message)
    sampling = read_sampling(body, default_max_tokens=None)
    if "max_completion_tokens" in body:
        sampling.max_tokens = read_optional_int(body, "max_completion_tokens", 0, None)
    top_k = read_top_logprobs(body, "top_logprobs", max_logprobs)
    wants_logprobs = body.get("logprobs") is True
    if top_k is not None and not wants_logprobs:
        raise RequestError(400, "'top_logprobs' requires 'logprobs' to be true.", "top_logprobs")
    conversation = "\n".join(contents)
    choices = []
    completion_tokens = 0
    for index in range(sampling.n):
        sample = draw_sample(script, last_message, sampling, index, leading_space=False)
        completion_tokens += len(sample.spans)
        logprobs = None
        if wants_logprobs:
            logprobs = {"content": chat_logprobs(conversation, sample, top_k or 0)}
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": sample.text},
                "logprobs": logprobs,
                "finish_reason": sample.finish_reason,
            }
        )
    usage = usage_body(count_tokens(conversation), completion_tokens)
    return envelope("chat.completion", body, model, choices, usage)


def models_body(model: str) -> dict[str, Any]:
    entry = {"id": model, "object": "model", "created": 0, "owned_by": "dlngraph"}
    return {"object": "list", "data": [entry]}


def envelope(
    kind: str, body: dict[str, Any], model: str, choices: list[Any], usage: dict[str, int]
) -> dict[str, Any]:
    return {
        "id": f"scripted-{time.monotonic_ns():x}",
        "object": kind,
        "created": int(time.time()),
        "model": body.get("model") or model,
        "choices": choices,
        "usage": usage,
    }


def usage_body(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def raise_scripted_failure(script: Script, prompt: str) -> None:
    failure = script.failure_for(prompt)
    if failure is not None:
        raise RequestError(failure.status, failure.message)


def draw_index(sampling: Sampling, position: int, index: int) -> int:
    """Which draw a choice is. With a seed, the prompt's own sample index, so that a prompt
    answers the same in a list as alone (and replays). Without one, the choice's index in the
    whole answer: a real server samples every prompt of a list on its own, so the same prompt
    listed twice gets two samples (the paper's code asks for its samples that way)."""
    return index if sampling.seed is not None else position * sampling.n + index


def draw_sample(
    script: Script, prompt: str, sampling: Sampling, index: int, *, leading_space: bool
) -> Sample:
    """The scripted answer if a rule matches, else the hash-based default, then cut at the
    first stop sequence and at max_tokens like a real server."""
    first_top = script.class_logprobs_for(prompt)
    text = script.answer_for(prompt, seed=(sampling.seed or 0) + index)
    if text is None:
        if first_top:
            text = first_top[0][0]
        else:
            text = default_text(
                prompt,
                temperature=sampling.temperature,
                seed=sampling.seed,
                index=index,
                leading_space=leading_space,
            )
    text = cut_at_stop(text, sampling.stop)
    spans = token_spans(text)
    finish_reason = "stop"
    if sampling.max_tokens is not None and len(spans) > sampling.max_tokens:
        end = spans[sampling.max_tokens][1]
        text, spans, finish_reason = text[:end], spans[: sampling.max_tokens], "length"
    return Sample(text, finish_reason, spans, first_top)


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    positions = [text.find(sequence) for sequence in stop if sequence]
    found = [position for position in positions if position >= 0]
    return text[: min(found)] if found else text


def completion_logprobs(
    prompt: str, sample: Sample, top_k: int, *, echo: bool, scored: ScoredTarget | None
) -> dict[str, list[Any]]:
    """Legacy `logprobs` object; with echo the prompt's tokens come first, the very first one
    without a logprob (nothing precedes it), like real servers."""
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    top_logprobs: list[dict[str, float] | None] = []
    text_offset: list[int] = []
    if echo:
        running = RunningLogprobs()
        for position, (token, offset) in enumerate(token_spans(prompt)):
            logprob = running.next(token)
            if scored is not None and offset + len(token) > scored.start:
                logprob = scored.per_token
            tokens.append(token)
            text_offset.append(offset)
            if position == 0:
                token_logprobs.append(None)
                top_logprobs.append(None)
            else:
                token_logprobs.append(logprob)
                top_logprobs.append(dict(top_alternatives(token, logprob, top_k)))
    else:
        running = RunningLogprobs(prompt)
    for token, logprob, top in generated_logprobs(running, sample, top_k):
        tokens.append(token)
        token_logprobs.append(logprob)
        top_logprobs.append(dict(top))
    text_offset.extend(len(prompt) + offset for _, offset in sample.spans)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top_logprobs,
        "text_offset": text_offset,
    }


def chat_logprobs(conversation: str, sample: Sample, top_k: int) -> list[dict[str, Any]]:
    running = RunningLogprobs(conversation)
    return [
        {
            "token": token,
            "logprob": logprob,
            "bytes": list(token.encode("utf-8")),
            "top_logprobs": [
                {"token": other, "logprob": other_logprob, "bytes": list(other.encode("utf-8"))}
                for other, other_logprob in top
            ],
        }
        for token, logprob, top in generated_logprobs(running, sample, top_k)
    ]


def generated_logprobs(
    running: RunningLogprobs, sample: Sample, top_k: int
) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """(token, logprob, top-k alternatives) of each generated token; the first token takes the
    scripted class logprobs when a class rule matched."""
    result = []
    for position, (token, _) in enumerate(sample.spans):
        logprob = running.next(token)
        if position == 0 and sample.first_top:
            logprob = dict(sample.first_top).get(token, logprob)
            top = list(sample.first_top[:top_k])
        else:
            top = top_alternatives(token, logprob, top_k)
        result.append((token, logprob, top))
    return result


def read_sampling(body: dict[str, Any], *, default_max_tokens: int | None) -> Sampling:
    max_tokens = read_optional_int(body, "max_tokens", 0, None)
    n = read_optional_int(body, "n", 1, MAX_N)
    seed = read_optional_int(body, "seed", None, None)
    temperature = body.get("temperature", 1.0)
    if temperature is None:
        temperature = 1.0
    if not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise RequestError(400, "'temperature' must be a number between 0 and 2.", "temperature")
    return Sampling(
        max_tokens=default_max_tokens if max_tokens is None else max_tokens,
        temperature=float(temperature),
        n=1 if n is None else n,
        stop=read_stop(body),
        seed=seed,
    )


def read_optional_int(
    body: dict[str, Any], name: str, minimum: int | None, maximum: int | None
) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(400, f"'{name}' must be an integer.", name)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise RequestError(400, f"'{name}' must be in [{minimum}, {maximum}], got {value}.", name)
    return value


def read_top_logprobs(body: dict[str, Any], name: str, cap: int) -> int | None:
    """How many top logprobs a request asks for; more than `cap` is refused with vLLM's words."""
    value = read_optional_int(body, name, 0, None)
    if value is not None and value > cap:
        raise RequestError(400, f"Requested sample logprobs of {value}, which is greater than max allowed: {cap}", name)
    return value


def read_stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(item, str) for item in stop):
        return tuple(stop)
    raise RequestError(400, "'stop' must be a string or a list of strings.", "stop")


def read_message_contents(body: dict[str, Any]) -> list[str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty list.", "messages")
    return [message_text(message) for message in messages]


def message_text(message: Any) -> str:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise RequestError(400, "Each message needs a 'role' and a 'content'.", "messages")
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise RequestError(400, "'content' must be a string or a list of parts.", "messages")
