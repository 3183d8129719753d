"""Values computed once and awaited by many: the glue of a barrier-free training step.

Each quantity of a step (a node's posterior samples, its sharpening weights, its best hidden
state) is computed the first time someone awaits it; everyone else awaits the same result. So
a phase starts exactly when what it reads is ready, and nothing is computed twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


class Once:
    def __init__(self) -> None:
        self._done: dict[Hashable, anyio.Event] = {}
        self._values: dict[Hashable, Any] = {}
        self._errors: dict[Hashable, BaseException] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        if key in self._done:
            await self._done[key].wait()
            if key in self._errors:
                raise self._errors[key]
            return self._values[key]
        done = self._done[key] = anyio.Event()
        try:
            self._values[key] = await compute()
        except BaseException as error:
            self._errors[key] = error
            raise
        finally:
            done.set()
        return self._values[key]
