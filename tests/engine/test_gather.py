"""`gather`: a whole phase of calls at once."""

from __future__ import annotations

import asyncio

import anyio
import anyio.lowlevel
import pytest

from dlngraph.engine import gather


async def echo(*values: int) -> tuple[int, ...]:
    await anyio.lowlevel.checkpoint()
    return values


async def test_nested_generators_bind_each_index_as_written() -> None:
    table = await gather(gather(echo(i, j) for j in range(3)) for i in range(2))
    assert table == [[(0, 0), (0, 1), (0, 2)], [(1, 0), (1, 1), (1, 2)]]


async def test_the_first_failure_cancels_the_rest_and_is_raised() -> None:
    finished: list[int] = []

    async def slow(index: int) -> None:
        await anyio.sleep(5)
        finished.append(index)

    async def broken() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await gather([slow(1), broken(), slow(2)])
    assert finished == []


async def test_results_come_back_in_call_order() -> None:
    async def after(delay: float, value: str) -> str:
        await anyio.sleep(delay)
        return value

    assert await gather([after(0.03, "a"), after(0.0, "b"), after(0.01, "c")]) == ["a", "b", "c"]


async def test_an_anyio_cancel_scope_cancels_every_call_before_gather_returns() -> None:
    cleaned: list[int] = []

    async def slow(index: int) -> None:
        try:
            await anyio.sleep(5)
        finally:
            cleaned.append(index)

    with anyio.move_on_after(0.05) as scope:
        await gather(slow(i) for i in range(100))
    assert scope.cancelled_caught
    assert sorted(cleaned) == list(range(100))


async def test_started_is_set_once_every_call_has_started_and_not_before() -> None:
    """Calls started after `started` is set reach the event loop behind all of them."""
    order: list[str] = []
    started = anyio.Event()

    async def first(index: int) -> None:
        order.append(f"first {index}")
        await anyio.sleep(0.01)

    async def after_started() -> None:
        await started.wait()
        await gather(second() for _ in range(3))

    async def second() -> None:
        order.append("second")

    await gather([gather((first(i) for i in range(100)), started=started), after_started()])
    assert started.is_set()
    assert order[:100] == [f"first {i}" for i in range(100)]
    assert order[100:] == ["second"] * 3


async def test_a_failure_leaves_the_caller_free_of_pending_cancellations() -> None:
    """Before Python 3.13 asyncio's task group could leave its caller half-cancelled; a later
    Ctrl-C would then surface as CancelledError rather than KeyboardInterrupt."""
    async def late_failure() -> None:
        await anyio.sleep(0.01)  # fails while gather waits at the end of its task group
        raise ValueError("late")

    with pytest.raises(ValueError, match="late"):
        await gather([late_failure(), anyio.sleep(1)])
    assert asyncio.current_task().cancelling() == 0


async def test_started_is_set_even_when_starting_fails() -> None:
    started = anyio.Event()

    async def broken() -> None:
        raise ValueError("at once")

    with pytest.raises(ValueError, match="at once"):
        await gather([broken(), *(anyio.sleep(1) for _ in range(100))], started=started)
    assert started.is_set()
