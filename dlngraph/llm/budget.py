"""A ceiling on what a run may spend, checked before anything is sent.

A request is charged one call and an estimate of its tokens (prompt tokens + max_tokens) before
it is sent; when it returns, the estimate is replaced by the tokens it really used. Charging the
estimate up front keeps a whole phase fired at once from overshooting the ceiling together.
Cache hits and calls that join an identical call in flight cost nothing.
"""

from __future__ import annotations

from typing import NamedTuple

from dlngraph.llm.errors import BudgetExceeded


class Spent(NamedTuple):
    calls: int
    tokens: int


class Charge(NamedTuple):
    """What one request was charged, to be settled when it returns."""

    model: str
    estimated_tokens: int


class _Account:
    __slots__ = ("calls", "max_calls", "max_tokens", "tokens")

    def __init__(self, max_calls: int | None, max_tokens: int | None) -> None:
        self.calls = 0
        self.tokens = 0
        self.max_calls = max_calls
        self.max_tokens = max_tokens

    def refusal(self, tokens: int) -> str | None:
        """Why one more request of `tokens` tokens would pass a ceiling, or None."""
        if self.max_calls is not None and self.calls + 1 > self.max_calls:
            return f"{self.max_calls} calls already made (max_calls={self.max_calls})"
        if self.max_tokens is not None and self.tokens + tokens > self.max_tokens:
            return (
                f"{self.tokens} tokens spent, or held for requests in flight at their longest answers,"
                f" + about {tokens} for this request > max_tokens={self.max_tokens}"
            )
        return None


class Budget:
    """Ceilings on calls and tokens, for the whole run and per model name.

    `per_model` maps a model name to `(max_calls, max_tokens)`; either may be None.
    """

    def __init__(
        self,
        max_calls: int | None = None,
        max_tokens: int | None = None,
        per_model: dict[str, tuple[int | None, int | None]] | None = None,
    ) -> None:
        self._total = _Account(max_calls, max_tokens)
        self._models = {name: _Account(calls, tokens) for name, (calls, tokens) in (per_model or {}).items()}

    @property
    def counts_tokens(self) -> bool:
        """Whether charging needs token estimates (counting tokens costs time on the hot path)."""
        return self._total.max_tokens is not None or any(a.max_tokens is not None for a in self._models.values())

    def charge(self, model: str, tokens: int) -> Charge:
        """Reserve one call of about `tokens` tokens, or raise `BudgetExceeded` (nothing is sent)."""
        account = self._account(model)
        for scope, ledger in (("the run", self._total), (f"model {model!r}", account)):
            refusal = ledger.refusal(tokens)
            if refusal is not None:
                raise BudgetExceeded(f"budget of {scope} exceeded: {refusal}; request to {model!r} not sent")
        for ledger in (self._total, account):
            ledger.calls += 1
            ledger.tokens += tokens
        return Charge(model, tokens)

    async def reserve(self, model: str, tokens: int) -> Charge:
        """`charge`, as a model calls it: a budget shared across a cluster (`ClusterBudget`)
        may have to ask its ledger first."""
        return self.charge(model, tokens)

    def settle(self, charge: Charge, used_tokens: int) -> None:
        """Replace the charge's token estimate by what the request really used."""
        correction = used_tokens - charge.estimated_tokens
        self._total.tokens += correction
        self._models[charge.model].tokens += correction

    def exhausted(self) -> bool:
        """Whether the whole budget leaves no room for one more call (nothing new should start)."""
        return self._total.refusal(0) is not None

    def spent(self, model: str | None = None) -> Spent:
        """Calls and tokens so far (tokens of requests in flight are their estimates)."""
        account = self._total if model is None else self._models.get(model)
        return Spent(account.calls, account.tokens) if account is not None else Spent(0, 0)

    def _account(self, model: str) -> _Account:
        account = self._models.get(model)
        if account is None:
            account = self._models[model] = _Account(None, None)
        return account
