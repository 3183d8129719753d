"""Back-pressure for one model: how many requests may be in flight, and how fast they may start.

A training step fires hundreds of calls at once and lets this layer hold them back, so the
limits must be shared by every caller of a model and must never leak capacity: a cancelled
caller gives back its concurrency slot, and a cancelled reservation gives back its tokens.

Rates use a token bucket with reservations: each `acquire` takes its tokens at once (the level
may go below zero) and then sleeps until the bucket has refilled past that debt. Sleep times
therefore grow with arrival order, which makes the bucket FIFO-fair without a wait queue, and a
request larger than the bucket (a long prompt under tokens/minute) is still let through.

Concurrency uses `Slots`, a counting semaphore that serves waiters by priority, then first come
first served. It is not anyio's or asyncio's: anyio's checks for cancellation on every acquire
(a weak-dictionary lookup that cost a quarter of the client's own time per call), asyncio's binds
itself to the first event loop that waits on it, while a model pool may outlive one
`asyncio.run`, and neither knows priorities.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

import anyio

from dlngraph.spec.models import Limits

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """`rate_per_minute` tokens per minute, with bursts of up to `capacity` tokens.

    `capacity` defaults to one second's worth of tokens (at least one), so a 600 requests/min
    bucket lets 10 requests through at once and then one every 100 ms.
    """

    def __init__(
        self,
        rate_per_minute: float,
        capacity: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if rate_per_minute <= 0:
            raise ValueError(f"rate_per_minute must be positive, got {rate_per_minute}")
        self.rate_per_second = rate_per_minute / 60.0
        self.capacity = float(capacity) if capacity is not None else max(1.0, self.rate_per_second)
        if self.capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._updated = clock()

    @property
    def level(self) -> float:
        """Tokens available now; negative while earlier reservations are still being paid back."""
        self._refill()
        return self._level

    async def acquire(self, amount: float = 1) -> None:
        """Wait until `amount` tokens may be spent; callers are served in arrival order."""
        self._refill()
        self._level -= amount
        if self._level >= 0:
            return
        try:
            await self._sleep(-self._level / self.rate_per_second)
        except BaseException:
            self._level = min(self.capacity, self._level + amount)  # give the reservation back
            raise

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._updated
        self._updated = now
        if elapsed > 0:
            self._level = min(self.capacity, self._level + elapsed * self.rate_per_second)


class Slots:
    """At most `limit` holders at once; `async with slots:` holds one.

    Waiters are served by priority, then in arrival order: a training step marks the calls
    that unlock further work (forward passes, posterior samples, proposals) more urgent than
    the bulk of candidate scores that nothing waits on, so that the critical path never queues
    behind the bulk. A cancelled waiter or holder never keeps a slot."""

    __slots__ = ("_queues", "in_use", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a limit of concurrent holders must be at least 1, got {limit}")
        self.limit = limit
        self.in_use = 0
        self._queues: dict[int, deque[asyncio.Future[None]]] = {}
        """Waiters by priority, each queue in arrival order (a step uses two priorities)."""

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    async def acquire(self, priority: int = 0) -> None:
        """Wait for a slot; higher `priority` is served first."""
        if self.in_use < self.limit and not self._queues:
            self.in_use += 1
            return
        handed_over = asyncio.get_running_loop().create_future()
        queue = self._queues.get(priority)
        if queue is None:
            queue = self._queues[priority] = deque()
        queue.append(handed_over)
        try:
            await handed_over  # a releasing holder passes its slot on: `in_use` is unchanged
        except BaseException:
            if handed_over.done() and not handed_over.cancelled():
                self.release()  # cancelled just after being handed the slot: pass it on
            else:
                self._forget(priority, handed_over)
            raise

    def release(self) -> None:
        while self._queues:
            priority = max(self._queues)
            queue = self._queues[priority]
            waiter = queue.popleft()
            if not queue:
                del self._queues[priority]
            if not waiter.done():
                waiter.set_result(None)
                return
        self.in_use -= 1

    def _forget(self, priority: int, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(priority)
        if queue is not None and waiter in queue:  # (a release may already have dropped it)
            queue.remove(waiter)
            if not queue:
                del self._queues[priority]

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class ModelLimiter:
    """Everything that holds one model's requests back, shared by all of its callers.

    Hold a slot around a call (`await limiter.slot().acquire(priority)`, then `release()`; at
    most `max_concurrency` at once), and `await limiter.admit(tokens)` before each attempt
    inside it (requests and tokens per minute).
    """

    def __init__(self, limits: Limits, *, clock: Clock = time.monotonic, sleep: Sleep = anyio.sleep) -> None:
        self._slots = Slots(limits.max_concurrency)
        self.requests = _bucket(limits.requests_per_minute, clock, sleep)
        self.tokens = _bucket(limits.tokens_per_minute, clock, sleep)
        self.limits_rate = self.requests is not None or self.tokens is not None
        """Whether `admit` can ever wait (callers skip it otherwise: it runs for every attempt)."""

    @property
    def in_use(self) -> int:
        """Concurrency slots currently held."""
        return self._slots.in_use

    @property
    def needs_token_counts(self) -> bool:
        return self.tokens is not None

    def slot(self) -> Slots:
        """The model's concurrency slots (`async with` holds one at the default priority)."""
        return self._slots

    async def admit(self, tokens: int = 0) -> None:
        """Wait for the rate buckets to allow one more request of about `tokens` tokens."""
        if self.requests is not None:
            await self.requests.acquire(1)
        if self.tokens is not None and tokens > 0:
            await self.tokens.acquire(tokens)


def _bucket(rate_per_minute: float | None, clock: Clock, sleep: Sleep) -> TokenBucket | None:
    return TokenBucket(rate_per_minute, clock=clock, sleep=sleep) if rate_per_minute else None
