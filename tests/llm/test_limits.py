"""Concurrency slots and rate buckets, alone and under `LanguageModel` against the scripted
server. Rates are checked on a virtual clock (an injected clock and sleep), so no assert depends
on how fast this machine is; the one wall-clock check is a lower bound the limiter enforces."""

from __future__ import annotations

import asyncio
import time

import pytest

from dlngraph.llm.client import LanguageModel
from dlngraph.llm.limits import ModelLimiter, Slots, TokenBucket
from dlngraph.llm.types import GenerateRequest
from dlngraph.spec.models import Limits
from dlngraph.testing.server import Latency


class VirtualClock:
    """Time that passes only when someone sleeps: `sleep(d)` moves the clock d seconds on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# --- Slots ---------------------------------------------------------------------------------------


async def test_slots_admit_up_to_the_limit_then_first_come_first_served():
    slots = Slots(2)
    order: list[int] = []
    release = asyncio.Event()

    async def hold(number: int) -> None:
        async with slots:
            order.append(number)
            await release.wait()

    tasks = [asyncio.create_task(hold(number)) for number in range(5)]
    await asyncio.sleep(0.01)
    assert order == [0, 1] and slots.in_use == 2 and slots.waiting == 3
    release.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4] and slots.in_use == 0


async def test_a_cancelled_waiter_never_takes_a_slot():
    slots = Slots(1)
    await slots.acquire()
    waiter = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.waiting == 0
    slots.release()
    assert slots.in_use == 0


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_passes_it_on():
    slots = Slots(1)
    await slots.acquire()
    first = asyncio.create_task(slots.acquire())
    second = asyncio.create_task(slots.acquire())
    await asyncio.sleep(0)
    slots.release()  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it runs again
    with pytest.raises(asyncio.CancelledError):
        await first
    await second  # so the slot went on to `second`
    assert slots.in_use == 1 and slots.waiting == 0


def test_slots_outlive_an_event_loop():
    """A pool may be used by successive `asyncio.run` calls (asyncio's own semaphore may not)."""
    slots = Slots(1)

    async def contend() -> None:
        async with slots:
            waiter = asyncio.create_task(slots.acquire())
            await asyncio.sleep(0)
        await waiter
        slots.release()

    asyncio.run(contend())
    asyncio.run(contend())
    assert slots.in_use == 0


# --- token buckets -------------------------------------------------------------------------------


async def test_600_per_minute_lets_a_burst_of_10_then_one_every_100ms():
    clock = VirtualClock()
    bucket = TokenBucket(600, clock=clock, sleep=clock.sleep)
    started = []
    for _ in range(30):
        await bucket.acquire()
        started.append(clock.now)
    assert started[:10] == [0.0] * 10
    assert started[10:] == pytest.approx([0.1 * k for k in range(1, 21)])


async def test_concurrent_acquires_are_served_in_arrival_order():
    sleeps: list[float] = []

    async def record(seconds: float) -> None:  # the clock stands still: all arrive at once
        sleeps.append(seconds)

    bucket = TokenBucket(60, capacity=1, clock=lambda: 0.0, sleep=record)
    await bucket.acquire()
    await asyncio.gather(*(bucket.acquire() for _ in range(4)))
    assert sleeps == pytest.approx([1.0, 2.0, 3.0, 4.0])  # each waits behind the ones before


async def test_a_cancelled_reservation_is_given_back():
    clock = VirtualClock()

    async def never(seconds: float) -> None:
        await asyncio.Event().wait()

    bucket = TokenBucket(60, capacity=1, clock=clock, sleep=never)
    await bucket.acquire()
    waiter = asyncio.create_task(bucket.acquire())
    await asyncio.sleep(0)
    assert bucket.level == -1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert bucket.level == 0


async def test_a_request_larger_than_the_bucket_still_passes():
    clock = VirtualClock()
    bucket = TokenBucket(6000, clock=clock, sleep=clock.sleep)  # capacity 100 tokens
    await bucket.acquire(250)
    assert clock.sleeps == pytest.approx([1.5])


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        ModelLimiter(Limits(max_concurrency=0))


# --- limits under LanguageModel, over HTTP ----------------------------------------------------------


async def test_requests_per_minute_over_http_on_a_virtual_clock(scripted_server, make_backend):
    clock = VirtualClock()
    limits = Limits(requests_per_minute=600)
    limiter = ModelLimiter(limits, clock=clock, sleep=clock.sleep)
    model = LanguageModel("m", make_backend(scripted_server), limits=limits, limiter=limiter)
    for index in range(25):
        await model.generate(GenerateRequest(prompt=f"p{index}"))
    assert scripted_server.stats.requests == 25
    assert clock.now == pytest.approx(1.5)  # 10 at once, then 15 at 100 ms intervals


async def test_requests_per_minute_holds_concurrent_callers_back(scripted_server, make_backend):
    """20 concurrent calls under 600/min (bursts of 10) cannot finish in under ~1 s."""
    model = LanguageModel("m", make_backend(scripted_server), limits=Limits(requests_per_minute=600))
    started = time.monotonic()
    await asyncio.gather(*(model.generate(GenerateRequest(prompt=f"p{index}")) for index in range(20)))
    assert time.monotonic() - started >= 0.9
    assert scripted_server.stats.requests == 20


async def test_max_concurrency_caps_requests_in_flight_at_the_server(start_server, make_backend):
    server = await start_server(latency=Latency(mean_s=0.02))
    model = LanguageModel("m", make_backend(server), limits=Limits(max_concurrency=3))
    await asyncio.gather(*(model.generate(GenerateRequest(prompt=f"p{index}")) for index in range(12)))
    assert server.stats.max_in_flight == 3
    assert model.stats.snapshot().requests_in_flight.maximum == 3
    assert model.limiter.in_use == 0


async def test_tokens_per_minute_charges_the_prompt_estimate(scripted_server, make_backend):
    clock = VirtualClock()
    limits = Limits(tokens_per_minute=6000)  # 100 tokens per second, bucket of 100
    limiter = ModelLimiter(limits, clock=clock, sleep=clock.sleep)
    model = LanguageModel("m", make_backend(scripted_server), limits=limits, limiter=limiter)
    for index in range(3):  # each about 51 prompt tokens (estimated) + 50 completion tokens
        await model.generate(GenerateRequest(prompt="x" * 150 + str(index), max_tokens=50))
    assert 1.5 <= clock.now <= 3.0  # ~300 tokens through a 100-token bucket refilling at 100/s


async def test_slots_serve_higher_priority_first_then_in_arrival_order():
    slots = Slots(1)
    await slots.acquire()
    order: list[str] = []

    async def wait(name: str, priority: int) -> None:
        await slots.acquire(priority)
        order.append(name)
        slots.release()

    tasks = [asyncio.create_task(wait(name, priority))
             for name, priority in [("bulk1", 0), ("bulk2", 0), ("urgent1", 1), ("bulk3", 0), ("urgent2", 1)]]
    await asyncio.sleep(0)
    assert slots.waiting == 5
    slots.release()
    await asyncio.gather(*tasks)
    assert order == ["urgent1", "urgent2", "bulk1", "bulk2", "bulk3"]
    assert slots.in_use == 0


async def test_a_cancelled_waiter_leaves_the_priority_order_intact():
    slots = Slots(1)
    await slots.acquire()
    order: list[int] = []

    async def wait(number: int, priority: int) -> None:
        await slots.acquire(priority)
        order.append(number)
        slots.release()

    tasks = [asyncio.create_task(wait(number, number % 3)) for number in range(6)]
    await asyncio.sleep(0)
    tasks[2].cancel()  # the most urgent one
    await asyncio.sleep(0)
    assert slots.waiting == 5
    slots.release()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert order == [5, 1, 4, 0, 3]
