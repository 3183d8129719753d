"""One budget for a whole cluster: calls and tokens granted to runs in blocks by one owner.

`dlngraph sweep --ray --budget calls=N` caps the sweep, whose runs train on many workers.
`BudgetLedger` holds the ceiling: plain bookkeeping that a Ray actor (`cluster_budget_ledger`)
makes one object for the cluster. Asking it for every call would cost a round trip each, so a
run's `ClusterBudget` asks for a *grant* (a few calls, and tokens to match) and charges its calls
against the grant locally, asking again only when the grant is used up. The ledger counts what
it granted as spent, so the runs together never pass the ceiling; it grants at most a quarter of
what is left, so near the end grants shrink to one call and little lies unused in a run's hands
while another is refused. A run gives back what it did not use when it ends (a worker that dies
keeps its grant: the ledger errs on the side of spending less).

A run refused by the ledger stops as a run in one process does when its budget is spent
(`BudgetExceeded`: stopped=budget, resumable), and its calls' tokens are settled as there: the
estimate charged up front, then corrected by what the call really used.

Ray is imported only by `cluster_budget_ledger`, so this module loads without it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from dlngraph.llm.budget import Budget, Charge
from dlngraph.llm.errors import BudgetExceeded

BLOCK_CALLS = 16
"""The calls a run asks for at a time (fewer near the end of the budget)."""


class BudgetLedger:
    """The sweep's ceilings, and what has been granted against them (counted as spent)."""

    def __init__(self, max_calls: int | None, max_tokens: int | None) -> None:
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.calls = 0
        self.tokens = 0

    def grant(self, calls: int, tokens: int, tokens_per_call: int, block: int = BLOCK_CALLS) -> tuple[int, int] | str:
        """At least `calls` calls and `tokens` tokens (more, up to `block` calls and their
        tokens at `tokens_per_call`, while much is left), or why not: then nothing is granted."""
        refusal = self._refusal(calls, tokens)
        if refusal is not None:
            return refusal
        extra = block - calls
        if self.max_calls is not None:
            extra = min(extra, (self.max_calls - self.calls - calls) // 4)
        extra_tokens = extra * tokens_per_call
        if self.max_tokens is not None:
            extra_tokens = min(extra_tokens, (self.max_tokens - self.tokens - tokens) // 4)
        granted = (calls + max(0, extra), tokens + max(0, extra_tokens))
        self.calls += granted[0]
        self.tokens += granted[1]
        return granted

    def give_back(self, calls: int, tokens: int) -> None:
        """A run's unused grant (tokens below 0: it used more than its estimates said)."""
        self.calls -= calls
        self.tokens -= tokens

    def exhausted(self) -> bool:
        return self._refusal(1, 0) is not None

    def spent(self) -> tuple[int, int]:
        """Calls and tokens granted and not given back."""
        return self.calls, self.tokens

    def _refusal(self, calls: int, tokens: int) -> str | None:
        if self.max_calls is not None and self.calls + calls > self.max_calls:
            return f"{self.calls} calls made or held by runs (max_calls={self.max_calls})"
        if self.max_tokens is not None and self.tokens + tokens > self.max_tokens:
            return (f"{self.tokens} tokens spent or held by runs + about {tokens} for this request"
                    f" > max_tokens={self.max_tokens}")
        return None


def cluster_budget_ledger(name: str, max_calls: int | None, max_tokens: int | None) -> Any:
    """A new `BudgetLedger` actor called `name`. Needs a connected Ray (`ray.init`)."""
    import ray

    return ray.remote(num_cpus=0)(BudgetLedger).options(name=name).remote(max_calls, max_tokens)


class ClusterBudget(Budget):
    """A run's budget drawn from the cluster's ledger in grants. Its own accounts (without
    ceilings) keep what this run spent, per model, as a `Budget` does."""

    def __init__(
        self, grant: Callable[..., Awaitable[tuple[int, int] | str]], give_back: Callable[[int, int], object], *,
        counts_tokens: bool,
    ) -> None:
        super().__init__()
        self._grant, self._give_back = grant, give_back
        self._counts = counts_tokens
        self._calls_left = 0
        self._tokens_left: float = 0 if counts_tokens else math.inf
        self._refill = asyncio.Lock()
        self._refused = False

    @classmethod
    def of_actor(cls, ledger: Any, *, counts_tokens: bool) -> ClusterBudget:
        """Over a `BudgetLedger` actor handle (a give-back is sent and not waited for)."""
        return cls(lambda *args: ledger.grant.remote(*args), ledger.give_back.remote, counts_tokens=counts_tokens)

    @property
    def counts_tokens(self) -> bool:
        return self._counts

    async def reserve(self, model: str, tokens: int) -> Charge:
        if not self._covers(tokens):
            async with self._refill:  # one request for a grant at a time; the others then use it
                if not self._covers(tokens):
                    await self._ask(model, tokens)
        self._calls_left -= 1
        self._tokens_left -= tokens
        return self.charge(model, tokens)

    def settle(self, charge: Charge, used_tokens: int) -> None:
        super().settle(charge, used_tokens)
        self._tokens_left -= used_tokens - charge.estimated_tokens

    def exhausted(self) -> bool:
        return self._refused

    def close(self) -> object:
        """Give the unused grant back to the ledger (the run has ended); what the give-back
        returned (over an actor, a Ray reference to wait for), or None if nothing was left."""
        tokens = 0 if math.isinf(self._tokens_left) else int(self._tokens_left)
        calls, self._calls_left, self._tokens_left = self._calls_left, 0, (0 if self._counts else math.inf)
        return self._give_back(calls, tokens) if calls or tokens else None

    def _covers(self, tokens: int) -> bool:
        return self._calls_left >= 1 and self._tokens_left >= tokens

    async def _ask(self, model: str, tokens: int) -> None:
        calls_short = max(0, 1 - self._calls_left)
        tokens_short = 0 if math.isinf(self._tokens_left) else max(0, math.ceil(tokens - self._tokens_left))
        granted = await self._grant(calls_short, tokens_short, tokens)
        if isinstance(granted, str):
            self._refused = True
            raise BudgetExceeded(f"budget of the sweep exceeded: {granted}; request to {model!r} not sent")
        self._calls_left += granted[0]
        if not math.isinf(self._tokens_left):
            self._tokens_left += granted[1]
