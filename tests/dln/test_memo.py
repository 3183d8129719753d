"""`Once`: a value computed once for every asker; a cancelled computation is not a value."""

from __future__ import annotations

import anyio
import pytest

from dlngraph.dln.memo import Once


async def test_every_asker_gets_the_one_computation() -> None:
    once, runs = Once(), []

    async def compute() -> int:
        runs.append(1)
        await anyio.sleep(0.01)
        return 42

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(once.get, "key", compute)
    assert await once.get("key", compute) == 42
    assert runs == [1]


async def test_an_error_is_kept_for_later_askers() -> None:
    once = Once()

    async def broken() -> int:
        raise ValueError("no")

    for _ in range(2):
        with pytest.raises(ValueError, match="no"):
            await once.get("key", broken)


async def test_a_cancelled_computation_is_computed_again_by_the_next_asker() -> None:
    once, started, computer = Once(), anyio.Event(), anyio.CancelScope()

    async def slow() -> int:
        started.set()
        await anyio.sleep(5)
        return 1

    async def quick() -> int:
        return 2

    got: list[int] = []

    async def first() -> None:
        with computer:
            await once.get("key", slow)

    async def second() -> None:
        await started.wait()
        got.append(await once.get("key", quick))  # waits for the first asker's computation

    async with anyio.create_task_group() as group:
        group.start_soon(first)
        group.start_soon(second)
        await started.wait()
        await anyio.sleep(0.01)
        computer.cancel()
    assert got == [2]
    assert await once.get("key", quick) == 2
