"""`PromptBatcher`: several calls in one `/completions` request, as a list of prompts.

The completions API takes a list of prompts (OpenAI and vLLM do; the paper's code sent 20 at a
time) and answers with `n` choices per prompt, in order: choice `index` = prompt position x n +
sample. One HTTP request per call costs the client and the server far more CPU than one more
prompt in a request does, and on a small machine that CPU, not the server's batch, bounds a
training step (see benchmarks/RESULTS.md).

Calls that differ only in their prompt and arrive in the same turn of the event loop go out
together, up to `max_prompts`: the first opens a batch, which is sent on the loop's next turn or
as soon as it is full. No timer: batching never delays a call that has no company. Each caller
gets back a body shaped as if its prompt had been sent alone: its own choices, re-indexed from
0, and its share of the usage (shares add up to the server's totals).

Failures: a transient failure of the request is every caller's, and each retries on its own. A
permanent one (an HTTP 400, say) of a batch of several prompts may be one prompt's fault, so each
prompt is then sent alone and gets its own answer, as the paper's code did. A cancelled caller
stops waiting; the request is cancelled once no caller waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from dlngraph.llm.errors import PermanentError
from dlngraph.llm.openai.parse import usage_of
from dlngraph.llm.waiters import settle, wait

Body = dict[str, Any]
Post = Callable[[Body], Awaitable[tuple[Body, float]]]

_batch_key = msgspec.json.Encoder(order="sorted").encode


class _Batch:
    """Prompts waiting to go out together, with the futures of the callers that sent them."""

    __slots__ = ("futures", "payload", "prompts", "task")

    def __init__(self, payload: Body) -> None:
        self.payload = payload
        self.prompts: list[str] = []
        self.futures: list[asyncio.Future[tuple[Body, float]]] = []
        self.task: asyncio.Task[None] | None = None
        """The request, once the batch is closed and sent."""

    def unwanted(self) -> bool:
        return all(future.cancelled() for future in self.futures)


class PromptBatcher:
    """Sends `/completions` payloads through `post`, up to `max_prompts` prompts per request."""

    def __init__(self, post: Post, max_prompts: int, *, dropped: tuple[str, ...] = ()) -> None:
        """`dropped`: fields left out of every payload, so that calls differing only in them go
        out together (the benchmark's paper schedule drops per-call seeds: the paper's code
        sends none, and one request of 20 prompts per mini-batch)."""
        if max_prompts < 1:
            raise ValueError(f"max_prompts must be at least 1, got {max_prompts}")
        self.max_prompts = max_prompts
        self.dropped = frozenset(dropped) | {"prompt"}
        self.prompts_sent = 0
        self.requests_sent = 0
        """HTTP requests sent (a batch of several prompts counts once)."""
        self._post = post
        self._open: dict[bytes, _Batch] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def post(self, payload: Body) -> tuple[Body, float]:
        """`post(payload)` for a payload with one string `prompt`, sent with company if any."""
        rest = {name: value for name, value in payload.items() if name not in self.dropped}
        key = _batch_key(rest)
        loop = asyncio.get_running_loop()
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Batch(rest)
            loop.call_soon(self._close, key, batch)
        future: asyncio.Future[tuple[Body, float]] = loop.create_future()
        batch.prompts.append(payload["prompt"])
        batch.futures.append(future)
        if len(batch.prompts) >= self.max_prompts:
            self._close(key, batch)
        try:
            return await wait(future)
        except asyncio.CancelledError:  # our future is cancelled with us: `_send` skips it
            if batch.task is not None and not batch.task.done() and batch.unwanted():
                batch.task.cancel()
            raise

    def _close(self, key: bytes, batch: _Batch) -> None:
        """No more prompts join `batch`; send it unless every caller has gone."""
        if self._open.get(key) is batch:
            del self._open[key]
        else:
            return  # closed already, when it filled up
        if batch.unwanted():
            return
        task = batch.task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: _Batch) -> None:
        waiting = [index for index, future in enumerate(batch.futures) if not future.done()]
        prompts = [batch.prompts[index] for index in waiting]
        futures = [batch.futures[index] for index in waiting]
        if len(prompts) == 1:
            await self._send_alone(batch.payload, prompts[0], futures[0])
            return
        self.prompts_sent += len(prompts)
        self.requests_sent += 1
        try:
            data, latency_s = await self._post({**batch.payload, "prompt": prompts})
        except PermanentError:  # perhaps one prompt's fault: let each prompt answer for itself
            await asyncio.gather(*(
                self._send_alone(batch.payload, prompt, future)
                for prompt, future in zip(prompts, futures, strict=True)
            ))
            return
        except Exception as error:  # noqa: BLE001 - every caller gets the request's outcome
            settle(futures, error=error)
            return
        bodies = split_response(data, prompts, int(batch.payload.get("n", 1)), echo=batch.payload.get("echo") is True)
        for future, body in zip(futures, bodies, strict=True):
            settle([future], result=(body, latency_s))

    async def _send_alone(self, payload: Body, prompt: str, future: asyncio.Future[tuple[Body, float]]) -> None:
        if future.done():
            return
        self.prompts_sent += 1
        self.requests_sent += 1
        try:
            outcome = await self._post({**payload, "prompt": prompt})
        except Exception as error:  # noqa: BLE001 - the caller gets the request's outcome
            settle([future], error=error)
            return
        settle([future], result=outcome)


def split_response(data: Body, prompts: list[str], n: int, *, echo: bool) -> list[Body]:
    """One body per prompt, as if each had been sent alone.

    A body without a list of choices is handed to every caller unchanged, so that each reports
    it as malformed the way a single request would."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not all(isinstance(choice, dict) for choice in choices):
        return [data] * len(prompts)
    per_prompt: list[list[Body]] = [[] for _ in prompts]
    for position, choice in enumerate(choices):
        index = choice.get("index", position)
        owner = index // n if isinstance(index, int) and index >= 0 else -1
        if 0 <= owner < len(prompts):
            per_prompt[owner].append({**choice, "index": index - owner * n})
    generated = [
        sum(max(len(str(choice.get("text", ""))) - (len(prompt) if echo else 0), 0) for choice in mine)
        for prompt, mine in zip(prompts, per_prompt, strict=True)
    ]
    usage = usage_of(data)
    prompt_tokens = apportion(usage.prompt_tokens, [len(prompt) for prompt in prompts])
    completion_tokens = apportion(usage.completion_tokens, generated)
    envelope = {name: value for name, value in data.items() if name not in ("choices", "usage")}
    return [
        {**envelope, "choices": mine, "usage": {"prompt_tokens": prompt_share, "completion_tokens": completion_share}}
        for mine, prompt_share, completion_share in zip(per_prompt, prompt_tokens, completion_tokens, strict=True)
    ]


def apportion(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (evenly if they are all 0), in whole numbers that
    add up to `total` exactly (largest remainders get the leftover units)."""
    if not weights:
        return []
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    exact = [total * weight / whole for weight in weights]
    shares = [int(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda index: exact[index] - shares[index], reverse=True)
    for index in by_remainder[: total - sum(shares)]:
        shares[index] += 1
    return shares
