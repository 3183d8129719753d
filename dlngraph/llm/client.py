"""`LanguageModel`: one named model as the rest of dlngraph sees it.

Every call goes through the same pipeline, in this order:

1. cache: a stored result comes back at once (`cached=True`);
2. in-flight deduplication: a caller asking for a request already in flight waits for that one;
3. context window: a prompt that cannot fit raises `ContextWindowExceeded` before it is sent
   (counted only here, by the caller that sends: tokenising is not free with a local model);
4. budget: the request is charged, or `BudgetExceeded` is raised before sending;
5. limits: a concurrency slot (the tag's priority decides who goes first when all are taken),
   then per attempt the requests/min and tokens/min buckets;
6. retries: transient failures are retried with backoff, and a call the backend lowered a
   setting for is sent again, within one cap of attempts (`dlngraph.llm.retry`);
7. backend: the wire work;
8. the result is stored in the cache, and every step is counted in `CallStats`.

Steps 3 to 8 run in the task of the first caller that asks for a request (its *owner*); callers
asking for the same request meanwhile wait for the owner's result. No task is created per
request: that cost more than the rest of the pipeline together (a task, a shield and three
extra event-loop hops per call; see `benchmarks/bench_client.py`). Cancellation stays clean:

- a cancelled waiter just stops waiting;
- a cancelled owner cancels its request, which unwinds inside the owner (giving back its
  concurrency slot, budget reservation and connection) before the cancellation propagates;
  if other callers were waiting, the request is then sent again for them, by the first of them.

So cancelling one caller never fails another, and nothing outlives the callers that wanted it.
The layer runs on asyncio, as aiohttp does.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from dlngraph.llm.accounting import CallStats, Counters
from dlngraph.llm.budget import Budget
from dlngraph.llm.cache import Cache
from dlngraph.llm.errors import ContextWindowExceeded, UnsupportedRequest
from dlngraph.llm.limits import ModelLimiter
from dlngraph.llm.retry import Retry
from dlngraph.llm.tokens import estimate_tokens
from dlngraph.llm.types import (
    Backend,
    Capabilities,
    ClassDistribution,
    ClassDistributionRequest,
    GenerateRequest,
    Generation,
    Request,
    Score,
    ScoreRequest,
    Tag,
)
from dlngraph.llm.waiters import settle, wait
from dlngraph.spec.models import Limits

R = TypeVar("R", Generation, Score, ClassDistribution)
LogProbSupport = Literal["echo", "chat_top_logprobs", "none"]
"""Which log-probabilities a model returns: of an arbitrary target (echo), of the top tokens
it generates (chat), or none."""
NO_TAG = Tag()


class LanguageModel:
    """A backend behind shared limits, retries, a cache, a budget and accounting.

    Several `LanguageModel`s may share one backend and one `ModelLimiter` (see `ModelPool`).
    Results may be shared between callers (deduplication): treat them as read-only.
    """

    def __init__(
        self,
        name: str,
        backend: Backend,
        *,
        limits: Limits | None = None,
        cache: Cache | None = None,
        budget: Budget | None = None,
        stats: CallStats | None = None,
        rng: random.Random | None = None,
        limiter: ModelLimiter | None = None,
        retry: Retry | None = None,
    ) -> None:
        limits = limits if limits is not None else Limits()
        self.name = name
        self.backend = backend
        self.identity = backend.identity
        self.cache = cache if cache is not None else Cache.off()
        self.budget = budget
        self.stats = stats if stats is not None else CallStats()
        self.limiter = limiter if limiter is not None else ModelLimiter(limits)
        self.retry = retry if retry is not None else Retry(limits.max_attempts, rng=rng)
        self._counts_tokens = self.limiter.needs_token_counts or (budget is not None and budget.counts_tokens)
        self._in_flight: dict[Request, list[asyncio.Future[Any]] | None] = {}
        """Requests being sent, with the futures of the callers waiting for them (None: none yet)."""

    # --- what the model is -------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        return self.backend.capabilities

    @property
    def context_window(self) -> int | None:
        return self.backend.context_window

    @property
    def log_prob_support(self) -> LogProbSupport:
        """The richest log-probabilities the backend returns (how a caller may score with it)."""
        capabilities = self.capabilities
        if capabilities.echo_scoring:
            return "echo"
        if capabilities.top_logprobs > 0:
            return "chat_top_logprobs"
        return "none"

    async def count_tokens(self, text: str) -> int:
        """The tokens `text` takes as a prompt (exact where the backend can tell)."""
        return await self.backend.count_tokens(text)

    # --- calls -------------------------------------------------------------------------------

    async def generate(self, request: GenerateRequest, *, tag: Tag = NO_TAG) -> Generation:
        return await self._call("generate", Generation, self.backend.generate, request, tag)

    async def score(self, request: ScoreRequest, *, tag: Tag = NO_TAG) -> Score:
        """log p(target | context); needs a backend that can echo-score (see `log_prob_support`).
        Checked here, before the pipeline, for every backend (they do not check it themselves)."""
        if not self.capabilities.echo_scoring:
            raise UnsupportedRequest(
                f"model {self.name!r} ({self.identity}) cannot score an arbitrary target:"
                f" its log-prob support is {self.log_prob_support!r}"
            )
        return await self._call("score", Score, self.backend.score, request, tag)

    async def class_distribution(self, request: ClassDistributionRequest, *, tag: Tag = NO_TAG) -> ClassDistribution:
        return await self._call("class_distribution", ClassDistribution, self.backend.class_distribution, request, tag)

    async def _call(
        self,
        kind: str,
        result_type: type[R],
        send: Callable[[Any], Awaitable[R]],
        request: Request,
        tag: Tag,
    ) -> R:
        counters = self.stats.call_started(self.name, tag)
        started = time.perf_counter()
        try:
            key = None
            if self.cache.enabled:
                key = self.cache.key(self.identity, kind, request)
                hit = self.cache.get(key, result_type)
                if hit is not None:
                    counters.cache_hits += 1
                    return hit
            call = _Call(send, request, key, counters, tag.priority)
            if request in self._in_flight:
                counters.deduplicated += 1
                result: R = await self._join(call)
            else:
                result = await self._send_as_owner(call)
            counters.latency.add(time.perf_counter() - started)
            return result
        except Exception:
            counters.errors += 1
            raise
        finally:
            self.stats.call_finished(self.name, tag)

    async def _join(self, call: _Call) -> Any:
        """Wait for the identical request in flight; if its owner gives up before it is
        answered, wait for the next owner, or become it (see the module docstring)."""
        while call.request in self._in_flight:
            result = await self._wait_for_owner(call.request)
            if result is not _SEND_AGAIN:
                return result
        return await self._send_as_owner(call)

    async def _wait_for_owner(self, request: Request) -> Any:
        """The owner's result (or its exception), or `_SEND_AGAIN` if the owner was cancelled."""
        waiters = self._in_flight[request]
        if waiters is None:
            waiters = self._in_flight[request] = []
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiters.append(future)
        return await wait(future)

    async def _send_as_owner(self, call: _Call) -> Any:
        """Send the request, then hand its outcome to the callers that waited for it."""
        request = call.request
        self._in_flight[request] = None  # a list of waiting futures once someone waits
        try:
            result = await self._send(call)
        except Exception as error:
            settle(self._finished(request), error=error)
            raise
        except BaseException:  # cancelled (or the loop is going down): let a waiter resend it
            settle(self._finished(request), result=_SEND_AGAIN)
            raise
        settle(self._finished(request), result=result)
        return result

    def _finished(self, request: Request) -> Sequence[asyncio.Future[Any]]:
        """Take `request` out of flight; the futures of the callers that waited for it."""
        return self._in_flight.pop(request) or ()

    async def _send(self, call: _Call) -> Any:
        """Steps 4 to 8 of the pipeline (after the context window), once per distinct request
        in flight: cache hits and callers joining a request never count tokens."""
        call.tokens = self._check_context_window(call.request)
        charge = await self.budget.reserve(self.name, call.tokens) if self.budget is not None else None
        used_tokens = 0
        slots = self.limiter.slot()
        try:
            await slots.acquire(call.priority)
            try:
                result = await self.retry.run(self._attempt, call, on_retry=call.counters.count_retry)
            finally:
                slots.release()
            used_tokens = result.usage.total_tokens
        finally:
            if charge is not None:
                self.budget.settle(charge, used_tokens)  # type: ignore[union-attr]
        call.counters.add_usage(result.usage)
        if call.key is not None:
            self.cache.put(call.key, result)
        return result

    async def _attempt(self, call: _Call) -> Any:
        """One try: wait for the rate limits, then send (counted as a request in flight)."""
        if self.limiter.limits_rate:
            await self.limiter.admit(call.tokens)
        call.counters.requests += 1
        self.stats.request_started()
        try:
            return await call.send(call.request)
        finally:
            self.stats.request_finished()

    def _check_context_window(self, request: Request) -> int:
        """Raise `ContextWindowExceeded` if the request cannot fit (unless the backend checks
        it exactly itself); return its token estimate (prompt + completion tokens) when limits
        or the budget need it, else 0. Estimated, never tokenised here: this runs per call, on
        the event loop, where a model's own tokenizer may not be used."""
        window = None if self.capabilities.checks_context_window else self.context_window
        if window is None and not self._counts_tokens:
            return 0
        prompt_tokens, completion_tokens, samples = self._token_shape(request)
        if window is not None and prompt_tokens + completion_tokens > window:
            raise ContextWindowExceeded(
                f"model {self.name!r}: the prompt takes {prompt_tokens} tokens and the completion up to"
                f" {completion_tokens}, more than the context window of {window}; nothing was sent",
                prompt_tokens=prompt_tokens,
                context_window=window,
            )
        return prompt_tokens + completion_tokens * samples

    def _token_shape(self, request: Request) -> tuple[int, int, int]:
        """(prompt tokens, completion tokens per sample, samples) of a request, estimated."""
        count = estimate_tokens
        if isinstance(request, GenerateRequest):
            return count(request.prompt), request.max_tokens, request.n
        if isinstance(request, ScoreRequest):
            return count(request.context + request.target), 0, 1  # the text the backend sends
        return count(request.prompt), 1, 1


class _Call:
    """One call on its way through the pipeline: what to send and what to count it against."""

    __slots__ = ("counters", "key", "priority", "request", "send", "tokens")

    def __init__(
        self,
        send: Callable[[Any], Awaitable[Any]],
        request: Request,
        key: bytes | None,
        counters: Counters,
        priority: int,
    ) -> None:
        self.send = send
        self.request = request
        self.key = key
        """The cache key (None with the cache off)."""
        self.counters = counters
        self.tokens = 0
        """The token estimate that limits and the budget charge (0 when nothing counts tokens)."""
        self.priority = priority


_SEND_AGAIN: Any = object()
"""What waiters are told when the owner of their request was cancelled."""
