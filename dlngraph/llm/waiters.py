"""Callers waiting, each on its own future, for an outcome that one owner computes.

Three owners hand out outcomes this way: the first caller of a request in `LanguageModel`, a
batched request in `PromptBatcher`, and the local model's worker thread. A waiter that is
cancelled leaves its future cancelled, hence done, and an owner settles only the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, TypeVar

T = TypeVar("T")


def settle(futures: Iterable[asyncio.Future[Any]], *, result: Any = None, error: BaseException | None = None) -> None:
    """Give every caller still waiting its outcome: `error` to raise if given, else `result`."""
    for future in futures:
        if future.done():  # its caller was cancelled
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


async def wait(future: asyncio.Future[T]) -> T:
    """The outcome of `future`. A waiter cancelled just as its future was settled marks the
    outcome retrieved, so that asyncio does not log an error nobody was left to see."""
    try:
        return await future
    except asyncio.CancelledError:
        if future.done() and not future.cancelled():
            future.exception()
        raise
