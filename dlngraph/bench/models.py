"""A spec's models, all pointed at the benchmark server.

One `OpenAIBackend` (one connection pool) serves every run, so connections opened by the
warm-up are reused and no run pays for TCP handshakes the others do not. Each run gets fresh
`LanguageModel`s: fresh accounting, an empty in-flight table, and one concurrency limiter shared
by all of the spec's models, because they all reach the same server.
"""

from __future__ import annotations

from collections import Counter

from dlngraph.bench.gate import PAPER_MINI_BATCH
from dlngraph.bench.paper_client import (
    PAPER_CLIENT,
    PaperClientBackend,
    PaperClientCost,
)
from dlngraph.engine import gather
from dlngraph.graph import CompiledNetwork
from dlngraph.llm.accounting import CallStats
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.limits import ModelLimiter
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.llm.types import GenerateRequest
from dlngraph.spec.models import Limits

SERVER_MODEL = "scripted"


def bench_backend(
    base_url: str, concurrency: int, prompts_per_request: int = 1, batch_without: tuple[str, ...] = ()
) -> OpenAIBackend:
    """The HTTP backend every run shares; close it with `await backend.aclose()`."""
    return OpenAIBackend(
        base_url=base_url, model=SERVER_MODEL, max_connections=concurrency,
        prompts_per_request=prompts_per_request, batch_without=batch_without,
    )


def paper_backend(base_url: str, concurrency: int, cost: PaperClientCost = PAPER_CLIENT) -> PaperClientBackend:
    """The baseline's backend: the calls of one mini-batch go out in one `/completions`
    request, up to `PAPER_MINI_BATCH` prompts, as the paper's code sends them (with one set of
    options for the whole list: no per-call seed, so samples of one phase share a request),
    and each request is followed by the paper client's own time (`paper_client`)."""
    return PaperClientBackend(
        cost=cost, base_url=base_url, model=SERVER_MODEL, max_connections=concurrency,
        prompts_per_request=PAPER_MINI_BATCH, batch_without=("seed",),
    )


def bench_models(network: CompiledNetwork, backend: OpenAIBackend, concurrency: int) -> dict[str, LanguageModel]:
    """A fresh `LanguageModel` per spec model, sharing one `CallStats` and one limiter."""
    limits = Limits(max_concurrency=concurrency, max_attempts=2)
    limiter = ModelLimiter(limits)
    stats = CallStats()
    return {
        name: LanguageModel(name, backend, limits=limits, limiter=limiter, stats=stats)
        for name in network.spec.models
    }


def requests_sent(models: dict[str, LanguageModel]) -> int:
    """Requests that reached the server (deduplicated calls excluded, retries included)."""
    return sum(requests_by_tag(models).values())


def requests_by_tag(models: dict[str, LanguageModel]) -> dict[tuple[str, str], int]:
    """`requests_sent` by the (node, phase) that sent them."""
    shared = {id(model.stats): model.stats for model in models.values()}.values()
    counts: Counter[tuple[str, str]] = Counter()
    for stats in shared:
        for group in stats.snapshot().groups:
            counts[group.node, group.phase] += group.requests
    return dict(counts)


async def warm_up(backend: OpenAIBackend, connections: int) -> None:
    """Open `connections` pooled connections, so that no measured run pays for them."""
    request = GenerateRequest(prompt="warm-up", max_tokens=1, temperature=0.0)
    await gather(backend.generate(request) for _ in range(connections))
