"""Firing a whole phase of calls at once.

The trainer issues hundreds of independent scoring and proposal calls per step. `gather` starts
them all in one task group (a slice per turn of the event loop) and returns their results in
order; the LLM layer's limits decide how many actually run at a time. Independent phases are
run together the same way: `await gather([phase_a(), phase_b()])`.

The task group is asyncio's own, not anyio's: a training step starts about two thousand tasks
here, and an anyio task costs 55-65 us of CPU against 11-13 us for a native one (measured in
benchmarks/RESULTS.md, "`gather` on asyncio's task group"). The semantics that matter here are the same: the first
failure cancels the siblings, and a cancelled caller (inside an anyio cancel scope too)
cancels every child first. (One difference: a child that raises CancelledError by itself
leaves None in its slot while its siblings go on.)
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Iterable
from typing import NoReturn, TypeVar

import anyio

T = TypeVar("T")

START_SLICE = 32
"""Calls started per turn of the event loop. Each call does some work before its first wait
(rendering a prompt, queueing for the model), so starting a thousand at once would stall the
loop for a tenth of a second, holding up the replies of calls already out, the critical path
among them. Starting them a slice per turn interleaves that work with the replies."""


def gather(calls: Iterable[Awaitable[T]], *, started: anyio.Event | None = None) -> Awaitable[list[T]]:
    """Await every call concurrently; the first failure cancels the rest and is re-raised.

    `calls` is consumed at once, not when the result is awaited: nested generator expressions
    such as `gather(gather(f(i, j) for j in js) for i in is_)` then bind each `i` as written.

    `started` is set once every call has been started. Calls started after that point run
    behind these ones in the event loop's queue, so they cannot reach the model's free
    slots first: a caller holding bulk work back until urgent work is `started` keeps the
    slots for the urgent work without waiting for its replies.
    """
    return _gather_all(list(calls), started)


async def _gather_all(pending: list[Awaitable[T]], started: anyio.Event | None) -> list[T]:
    results: list[T] = [None] * len(pending)  # type: ignore[list-item]

    async def run(index: int, call: Awaitable[T]) -> None:
        results[index] = await call

    task = asyncio.current_task()
    cancelling = task.cancelling() if task is not None else 0
    try:
        async with asyncio.TaskGroup() as group:
            for index, call in enumerate(pending):
                if index and index % START_SLICE == 0:
                    await asyncio.sleep(0)  # let replies in between slices
                group.create_task(run(index, call))
            if started is not None:
                started.set()
    except BaseExceptionGroup as errors:
        if task is not None and sys.version_info < (3, 13):
            _undo_group_cancel(task, cancelling)
        raise_first(errors)
    finally:
        if started is not None:
            started.set()  # also when starting failed: no one waits in vain
        for call in pending:  # calls cancelled before they started must not warn "never awaited"
            if inspect.iscoroutine(call) and inspect.getcoroutinestate(call) == inspect.CORO_CREATED:
                call.close()
    return results


def _undo_group_cancel(task: asyncio.Task, cancelling: int) -> None:
    """Before Python 3.13, a task group whose child fails while the parent waits at its end
    cancels the parent and never takes it back: the caller would then carry a pending
    cancellation (a later Ctrl-C surfaces as CancelledError instead of KeyboardInterrupt).
    An anyio cancel scope that really cancelled us re-delivers its cancellation anyway."""
    while task.cancelling() > cancelling:
        task.uncancel()


def raise_first(errors: BaseExceptionGroup) -> NoReturn:
    """Unwrap a task group's exception group to the first real error (what the caller expects
    from a single failed call), keeping the group as its context."""
    leaves = list(_leaves(errors))
    real = [error for error in leaves if not isinstance(error, anyio.get_cancelled_exc_class())]
    raise (real or leaves)[0]


def _leaves(group: BaseExceptionGroup):
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error
