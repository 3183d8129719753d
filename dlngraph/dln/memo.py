"""Values computed once and awaited by many: the glue of a barrier-free training step.

Each quantity of a step (a node's posterior samples, its sharpening weights, its best hidden
state, every likelihood term) is computed the first time someone awaits it; everyone else
awaits the same result. So a phase starts exactly when what it reads is ready, and nothing is
computed twice.

Most keys (a step's thousands of likelihood terms) are asked for by one caller only, so the
event that later callers wait on is created only when a second caller arrives while the first
is still computing, and a ready value is returned without yielding to the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


class Once:
    def __init__(self) -> None:
        self._computing: dict[Hashable, anyio.Event | None] = {}
        """Keys being computed, with the event their other askers wait on (None: none yet)."""
        self._values: dict[Hashable, Any] = {}
        self._errors: dict[Hashable, BaseException] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        while True:
            if key in self._values:
                return self._values[key]
            if key in self._errors:
                raise self._errors[key]
            if key not in self._computing:
                return await self._compute(key, compute)
            done = self._computing[key]
            if done is None:
                done = self._computing[key] = anyio.Event()
            await done.wait()  # then a value, an error, or (the computer was cancelled) nothing

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """Compute as the first asker. A cancellation is not the value's fault: it is not
        kept, and the next asker computes again."""
        self._computing[key] = None
        try:
            self._values[key] = value = await compute()
        except anyio.get_cancelled_exc_class():
            raise
        except BaseException as error:
            self._errors[key] = error
            raise
        finally:
            done = self._computing.pop(key)
            if done is not None:
                done.set()
        return value
