"""One endpoint's limits across a cluster: concurrency slots and rate buckets held by one owner.

Runs on many machines that hit one server together must keep, together, to its concurrency,
requests/min and tokens/min. `SlotTable` holds them: plain bookkeeping that a Ray actor
(`cluster_slot_table`) makes one object for the whole cluster. A slot is a *lease*: it expires
`lease_s` after it was granted or last renewed, so a worker that dies holding slots (killed,
its node lost) gives them back on its own; a live holder renews its leases while it works.

`ClusterSlots` is the caller's side: `async with slots.slot():` waits for a lease (asking
again after the wait the table suggests), renews it in the background, and releases it however
the block ends. `ClusterLimiter` puts it under a `LanguageModel`, in place of a model's own
limiter (`dlngraph sweep --ray` gives every run's models the cluster's). Every acquisition is one round trip to the actor, which is the price of the
shared limit: `benchmarks/bench_cluster_limiter.py` measures it.

Ray is imported only by `cluster_slot_table`, so this module loads without it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from dlngraph.llm.limits import ModelLimiter, Slots
from dlngraph.spec.models import Limits

LEASE_S = 30.0
MIN_WAIT_S = 0.005
MAX_WAIT_S = 0.25


class _Rate:
    """A token bucket read at a moment (no sleeping: the table only answers "not yet, in t s")."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.per_second = per_minute / 60.0
        self.capacity = max(1.0, self.per_second)
        self.level = self.capacity
        self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.per_second)
        self.updated = now
        needed = min(amount, self.capacity)  # a request larger than the bucket still goes, alone
        return 0.0 if self.level >= needed else (needed - self.level) / self.per_second


class SlotTable:
    """`max_concurrency` leased slots, and optional requests/min and tokens/min buckets."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.lease_s = lease_s
        self._clock = clock
        now = clock()
        self._requests = _Rate(requests_per_minute, now) if requests_per_minute else None
        self._tokens = _Rate(tokens_per_minute, now) if tokens_per_minute else None
        self._leases: dict[int, tuple[str, float]] = {}
        self._ids = itertools.count(1)
        self.max_held = 0
        self.expired = 0

    def acquire(self, holder: str) -> tuple[int | None, float]:
        """A lease id and 0 (a slot, and one request of the requests/min bucket), or None and
        how long to wait before asking again."""
        now = self._clock()
        self._expire(now)
        if len(self._leases) >= self.max_concurrency:
            return None, MIN_WAIT_S
        if self._requests is not None:
            wait_s = self._requests.wait_for(1, now)
            if wait_s:
                return None, wait_s
            self._requests.level -= 1
        lease = next(self._ids)
        self._leases[lease] = (holder, now + self.lease_s)
        self.max_held = max(self.max_held, len(self._leases))
        return lease, 0.0

    def release(self, lease: int) -> None:
        self._leases.pop(lease, None)

    def spend(self, tokens: int) -> float:
        """Take `tokens` from the tokens/min bucket: 0, or how long to wait before asking again."""
        if self._tokens is None or tokens <= 0:
            return 0.0
        wait_s = self._tokens.wait_for(tokens, self._clock())
        if not wait_s:
            self._tokens.level -= tokens
        return wait_s

    def renew(self, holder: str) -> int:
        """Extend every lease of `holder`; how many it holds."""
        now = self._clock()
        self._expire(now)
        mine = [lease for lease, (owner, _) in self._leases.items() if owner == holder]
        for lease in mine:
            self._leases[lease] = (holder, now + self.lease_s)
        return len(mine)

    def held(self) -> int:
        self._expire(self._clock())
        return len(self._leases)

    def stats(self) -> dict[str, int]:
        return {"held": self.held(), "max_held": self.max_held, "expired": self.expired}

    def _expire(self, now: float) -> None:
        stale = [lease for lease, (_, until) in self._leases.items() if until <= now]
        for lease in stale:
            del self._leases[lease]
        self.expired += len(stale)


def cluster_slot_table(name: str, max_concurrency: int, **settings: Any) -> Any:
    """The cluster's one `SlotTable` actor called `name` (created by whoever asks first; the
    others get a handle to it). Needs a connected Ray (`ray.init`)."""
    import ray

    actor = ray.remote(num_cpus=0)(SlotTable)
    return actor.options(name=name, get_if_exists=True).remote(max_concurrency, **settings)


Call = Callable[..., Awaitable[Any]]


class ClusterSlots:
    """A holder's side of a table: leases taken and given back, renewed while any is held."""

    def __init__(
        self, acquire: Call, release: Callable[[int], object], renew: Call, spend: Call, *,
        holder: str, lease_s: float = LEASE_S,
    ) -> None:
        self._acquire, self._release, self._renew, self._spend = acquire, release, renew, spend
        self.holder = holder
        self._lease_s = lease_s
        self._holding = 0
        self._renewer: asyncio.Task[None] | None = None

    @classmethod
    def of_actor(cls, actor: Any, *, holder: str, lease_s: float = LEASE_S) -> ClusterSlots:
        """Over a Ray actor handle: each remote call awaited as an asyncio future (a release is
        sent and not waited for)."""
        return cls(
            lambda *args: actor.acquire.remote(*args), actor.release.remote,
            lambda *args: actor.renew.remote(*args), lambda *args: actor.spend.remote(*args),
            holder=holder, lease_s=lease_s,
        )

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        lease = await self.lease()
        try:
            yield
        finally:
            self.give_back(lease)

    async def lease(self) -> int:
        """Wait for a slot of the table (asking again after the wait it suggests)."""
        while True:
            lease, wait_s = await self._acquire(self.holder)
            if lease is not None:
                break
            await asyncio.sleep(min(MAX_WAIT_S, max(MIN_WAIT_S, wait_s)))
        self._holding += 1
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_while_holding())
        return lease

    def give_back(self, lease: int) -> None:
        self._holding -= 1
        self._release(lease)

    async def spend(self, tokens: int) -> None:
        """Wait until the table's tokens/min bucket lets `tokens` more through."""
        while wait_s := await self._spend(tokens):
            await asyncio.sleep(min(MAX_WAIT_S, max(MIN_WAIT_S, wait_s)))

    async def _renew_while_holding(self) -> None:
        while self._holding:
            await asyncio.sleep(self._lease_s / 3)
            if self._holding:
                await self._renew(self.holder)


class ClusterLimiter(ModelLimiter):
    """A model's limiter whose slots and rates are the cluster's: a call first takes one of
    this process's slots (served by priority, as everywhere), then a lease of the table."""

    def __init__(self, limits: Limits, cluster: ClusterSlots) -> None:
        super().__init__(Limits(max_concurrency=limits.max_concurrency))
        self.cluster = cluster
        self._counts_tokens = limits.tokens_per_minute is not None
        self.limits_rate = self._counts_tokens

    @property
    def needs_token_counts(self) -> bool:
        return self._counts_tokens

    def slot(self) -> _LeasedSlot:  # type: ignore[override]
        return _LeasedSlot(super().slot(), self.cluster)

    async def admit(self, tokens: int = 0) -> None:
        await self.cluster.spend(tokens)


class _LeasedSlot:
    """One call's slot: the process's, then the cluster's, given back in the reverse order."""

    __slots__ = ("_cluster", "_lease", "_local")

    def __init__(self, local: Slots, cluster: ClusterSlots) -> None:
        self._local, self._cluster, self._lease = local, cluster, None

    async def acquire(self, priority: int = 0) -> None:
        await self._local.acquire(priority)
        try:
            self._lease = await self._cluster.lease()
        except BaseException:
            self._local.release()
            raise

    def release(self) -> None:
        if self._lease is not None:
            self._cluster.give_back(self._lease)
            self._lease = None
        self._local.release()
