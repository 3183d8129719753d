"""Retrying: which failures are worth another attempt, how many attempts a call gets, and how long
to wait between them. Decided here and nowhere else.

Worth another attempt are a `TransientError` (a dropped connection, a timeout, a garbled body,
or an HTTP status in `retryable_status`), after a backoff, and a `SendAgain` (the backend
lowered a setting the server refused), at once. Both spend one of the call's `max_attempts`
(`limits.max_attempts` in a spec), so a server that keeps refusing ends the call in
`RetriesExhausted`, naming the last refusal. `PermanentError`, `BudgetExceeded` and everything
else pass straight through.

Hundreds of calls that fail together (a 429 storm, a server restart) must not come back
together: each waits a random time in [0, min(cap, base * 2**attempt)] ("full jitter", see the
AWS Architecture Blog's "Exponential Backoff and Jitter"), or at least the server's
Retry-After when it sent one.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from dlngraph.llm.errors import LLMError, RetriesExhausted, SendAgain, TransientError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[LLMError, float], None]
"""Told about every failed attempt that will be retried, with the delay before the next one."""

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""With every 5xx, the HTTP statuses that ask for another attempt (`retryable_status`)."""


def retryable_status(status: int) -> bool:
    """Whether a server answering `status` asks to be tried again: 408, 409, 429 and 5xx (OpenAI's
    own client retries exactly these). Any other 4xx fails the same way every time."""
    return status in RETRYABLE_STATUSES or status >= 500


class Retry:
    """Which errors a call retries, how many attempts it gets, and how long it waits between them."""

    def __init__(
        self,
        max_attempts: int = 6,
        *,
        base_s: float = 0.5,
        cap_s: float = 30.0,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.max_attempts = max_attempts
        self.base_s = base_s
        self.cap_s = cap_s
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()

    def delay(self, attempt: int, error: TransientError) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        ceiling = self.cap_s if attempt >= 60 else min(self.cap_s, self.base_s * 2.0**attempt)
        backoff = self._rng.uniform(0.0, ceiling)
        if error.retry_after is not None:
            return max(error.retry_after, backoff)
        return backoff

    async def run(self, attempt: Callable[..., Awaitable[T]], *args: Any, on_retry: OnRetry | None = None) -> T:
        """Await `attempt(*args)` until it succeeds, raising `RetriesExhausted` from the last
        error. (Arguments are passed through rather than bound in a closure: this runs for every
        request, and closures are objects the garbage collector must then walk.)"""
        for number in range(self.max_attempts - 1):
            try:
                return await attempt(*args)
            except TransientError as error:
                wait = self.delay(number, error)
                _report(error, wait, on_retry)
                await self._sleep(wait)
            except SendAgain as error:  # the backend has lowered what the server refused: at once
                _report(error, 0.0, on_retry)
        try:
            return await attempt(*args)
        except (TransientError, SendAgain) as error:
            raise RetriesExhausted(f"{self.max_attempts} attempts failed; the last with: {error}") from error


def _report(error: LLMError, wait: float, on_retry: OnRetry | None) -> None:
    logger.debug("retrying in %.2fs after: %s", wait, error)
    if on_retry is not None:
        on_retry(error, wait)
