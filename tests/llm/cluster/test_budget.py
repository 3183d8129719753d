"""The cluster's budget in grants: `BudgetLedger` driven through `ClusterBudget` in one process
(the actor's methods called directly; `tests/runs/test_sweep_ray.py` runs it on a real Ray)."""

from __future__ import annotations

import asyncio

import pytest

from dlngraph.llm.budget import Budget
from dlngraph.llm.cluster.budget import BudgetLedger, ClusterBudget
from dlngraph.llm.errors import BudgetExceeded


def budget_of(ledger: BudgetLedger, *, counts_tokens: bool = False) -> tuple[ClusterBudget, list[str]]:
    """A run's budget over `ledger`, and a log of its round trips to it."""
    trips: list[str] = []

    async def grant(*args: int) -> tuple[int, int] | str:
        trips.append("grant")
        await asyncio.sleep(0)
        return ledger.grant(*args)

    return ClusterBudget(grant, ledger.give_back, counts_tokens=counts_tokens), trips


async def spend(budget: Budget, calls: int, tokens: int = 0) -> int:
    """Charge up to `calls` calls (settled at their estimate); how many were let through."""
    for made in range(calls):
        try:
            charge = await budget.reserve("fast", tokens)
        except BudgetExceeded:
            return made
        budget.settle(charge, tokens)
    return calls


def test_runs_drawing_on_one_ledger_never_pass_its_ceiling_and_ask_it_rarely() -> None:
    ledger = BudgetLedger(max_calls=100, max_tokens=None)
    (first, first_trips), (second, second_trips) = budget_of(ledger), budget_of(ledger)

    async def main() -> list[int]:
        return await asyncio.gather(spend(first, 80), spend(second, 80))

    made = asyncio.run(main())
    assert sum(made) == 100 and ledger.spent() == (100, 0) and ledger.exhausted()
    assert len(first_trips) + len(second_trips) < 40  # in grants, not one round trip per call
    assert first.spent().calls == made[0] and first.exhausted()


def test_an_unused_grant_goes_back_and_tokens_are_settled_as_a_local_budget_settles_them() -> None:
    ledger = BudgetLedger(max_calls=None, max_tokens=1000)
    budget, _ = budget_of(ledger, counts_tokens=True)

    async def main() -> None:
        charge = await budget.reserve("fast", 100)
        budget.settle(charge, 40)

    asyncio.run(main())
    assert ledger.spent()[1] > 100  # a grant holds more than the one call needed
    budget.close()
    assert ledger.spent() == (1, 40) == budget.spent()  # the call made, at what it really used


def test_the_refusal_says_it_is_the_sweep_s_budget_and_nothing_is_charged() -> None:
    ledger = BudgetLedger(max_calls=None, max_tokens=50)
    budget, _ = budget_of(ledger, counts_tokens=True)
    with pytest.raises(BudgetExceeded, match=r"budget of the sweep exceeded: .*max_tokens=50.*'fast' not sent"):
        asyncio.run(budget.reserve("fast", 60))
    assert ledger.spent() == (0, 0) and budget.spent() == (0, 0)
