"""The paper's client: its own time per request, which the baseline spends as the paper's does.

The reference code (microsoft/deep-language-networks at 036d895) is synchronous: between two
requests it parses the last answer and renders the next prompts, and the server waits. Profiled
on one DLN-2 navigate iteration against the bench's server (69 requests, 1,278 prompts, 200 ms;
benchmarks/RESULTS.md, "The paper client's own time"), that is 35-43 ms per request of its own
CPU, none of it schedule (no retries, no sleeps, no extra requests):

- openai 1.14.1's response parsing (`construct_type` building a pydantic `TypeAdapter` per
  optional field of every choice): 1.35 ms per echoed prompt, 0.38 ms per other prompt;
- jinja2 compiling the template again for every render, and tiktoken's cost counting:
  0.67 ms per prompt sent;
- the request's own preparation (`maybe_transform`, httpx, tenacity, logging, numpy glue) and
  the garbage collector's pauses: 5.5 ms per request.

What the baseline's own client already does (sending, the server's answer, decoding JSON) is
not charged again. The costs are charged after each answer, one request after the other as in
the paper's loop, as a sleep: the wall time is what matters, and a sleep does not take the
server's core.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from dlngraph.llm.openai.backend import OpenAIBackend


class PaperClientCost(msgspec.Struct, frozen=True, kw_only=True):
    """The paper client's own seconds per request, by what the request holds."""

    per_request_s: float = 0.0055
    per_prompt_s: float = 0.00067
    per_echoed_prompt_s: float = 0.00135
    per_other_prompt_s: float = 0.00038

    def of(self, payload: dict[str, Any]) -> float:
        """Seconds the paper's client spends on the request `payload` besides sending it."""
        prompts = payload.get("prompt", "")
        count = len(prompts) if isinstance(prompts, list) else 1
        parsing = self.per_echoed_prompt_s if payload.get("echo") is True else self.per_other_prompt_s
        return self.per_request_s + count * (self.per_prompt_s + parsing)


PAPER_CLIENT = PaperClientCost()
"""The costs measured on the paper's code at 036d895 (openai 1.14.1, pydantic 2.14.4)."""

NO_COST = PaperClientCost(per_request_s=0.0, per_prompt_s=0.0, per_echoed_prompt_s=0.0, per_other_prompt_s=0.0)
"""The paper's schedule on dlngraph's client alone (what the baseline measured before)."""


class PaperClientBackend(OpenAIBackend):
    """An OpenAI-compatible backend that spends the paper client's own time after every
    `/completions` request (one per mini-batch when its prompts are batched)."""

    def __init__(self, *, cost: PaperClientCost, **options: Any) -> None:
        self.cost = cost
        self.client_time_s = 0.0
        """Seconds spent so far as the paper's client."""
        super().__init__(**options)

    async def _post_completions_now(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        answer = await super()._post_completions_now(payload)
        seconds = self.cost.of(payload)
        self.client_time_s += seconds
        await asyncio.sleep(seconds)
        return answer
