"""The cluster's slot table, without Ray: caps, leases that expire, renewals, rate waits."""

from __future__ import annotations

import asyncio

import pytest

from dlngraph.llm.cluster.limits import ClusterSlots, SlotTable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_slots_are_capped_and_a_dead_holder_s_leases_expire() -> None:
    clock = Clock()
    table = SlotTable(2, lease_s=10.0, clock=clock)
    first, _ = table.acquire("dead")
    second, _ = table.acquire("dead")
    assert first and second and table.acquire("alive") == (None, pytest.approx(0.005))
    clock.now += 9.0
    assert table.acquire("alive")[0] is None  # still leased
    clock.now += 1.0
    lease, _ = table.acquire("alive")
    assert lease is not None and table.stats() == {"held": 1, "max_held": 2, "expired": 2}


def test_a_renewed_lease_outlives_its_first_term() -> None:
    clock = Clock()
    table = SlotTable(1, lease_s=10.0, clock=clock)
    table.acquire("worker")
    clock.now += 8.0
    assert table.renew("worker") == 1
    clock.now += 8.0
    assert table.held() == 1 and table.acquire("other")[0] is None
    clock.now += 2.0
    assert table.held() == 0


def test_a_rate_limit_says_how_long_to_wait() -> None:
    clock = Clock()
    table = SlotTable(100, requests_per_minute=60, tokens_per_minute=600, clock=clock)  # 1 request, 10 tokens a second
    assert table.acquire("w")[0] is not None
    lease, wait_s = table.acquire("w")
    assert lease is None and wait_s == pytest.approx(1.0)
    clock.now += 1.0
    assert table.acquire("w")[0] is not None
    assert table.spend(10) == 0.0 and table.spend(5) == pytest.approx(0.5)


async def test_cluster_slots_hold_the_cap_release_on_cancel_and_renew() -> None:
    table = SlotTable(3, lease_s=0.06)

    async def call(method: str, *args: object) -> object:
        await asyncio.sleep(0)  # a round trip, as to an actor
        return getattr(table, method)(*args)

    slots = ClusterSlots(lambda *a: call("acquire", *a), table.release, lambda *a: call("renew", *a),
                         lambda *a: call("spend", *a), holder="me", lease_s=0.06)

    async def work() -> None:
        async with slots.slot():
            await asyncio.sleep(0.1)  # longer than a lease: only renewals keep it

    await asyncio.gather(*(work() for _ in range(9)))
    assert table.stats() == {"held": 0, "max_held": 3, "expired": 0}
    holder = asyncio.create_task(work())
    await asyncio.sleep(0.02)
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert table.held() == 0


async def test_a_cluster_limiter_under_a_language_model_holds_the_table_s_cap(start_server) -> None:
    from dlngraph.llm.client import LanguageModel
    from dlngraph.llm.cluster.limits import ClusterLimiter
    from dlngraph.llm.openai.backend import OpenAIBackend
    from dlngraph.llm.types import GenerateRequest
    from dlngraph.spec.models import Limits
    from dlngraph.testing.server import Latency

    server = await start_server(latency=Latency(mean_s=0.02))
    table = SlotTable(2)

    async def acquire(holder: str) -> object:
        return table.acquire(holder)

    async def renew(holder: str) -> object:
        return table.renew(holder)

    async def spend(tokens: int) -> object:
        return table.spend(tokens)

    limits = Limits(max_concurrency=8)
    models = [LanguageModel(f"m{index}", OpenAIBackend(base_url=server.base_url, model="scripted"), limits=limits,
                            limiter=ClusterLimiter(limits, ClusterSlots(acquire, table.release, renew, spend, holder=f"h{index}")))
              for index in range(2)]  # two "processes", each allowed 8 by its own limits
    try:
        await asyncio.gather(*(model.generate(GenerateRequest(prompt=f"{model.name}-{i}")) for model in models for i in range(8)))
    finally:
        for model in models:
            await model.backend.aclose()
    assert server.stats.requests == 16 and server.stats.max_in_flight == 2 and table.stats()["held"] == 0
