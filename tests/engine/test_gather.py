"""`gather`: a whole phase of calls at once."""

from __future__ import annotations

import anyio
import pytest

from dlngraph.engine import gather


async def echo(*values: int) -> tuple[int, ...]:
    await anyio.sleep(0)
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
