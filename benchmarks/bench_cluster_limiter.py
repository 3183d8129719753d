"""What the cluster-wide limiter costs per call, beside the in-process one.

    python benchmarks/bench_cluster_limiter.py [--calls N] [--in-flight K]

Starts a local Ray (2 CPUs) and times acquiring and releasing a concurrency slot: through the
process's own `ModelLimiter`, and through the `SlotTable` actor of `dlngraph.llm.cluster.limits`
(one round trip to acquire, one to release), one call at a time (the latency a call pays) and
K at once (what the actor sustains). The slot is empty work, so the figures are pure overhead.
Then the same for the budget: a call charged and settled through an in-process `Budget`, and
through a `ClusterBudget` drawing grants from the `BudgetLedger` actor of
`dlngraph.llm.cluster.budget`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import ray

from dlngraph.llm.budget import Budget
from dlngraph.llm.cluster.budget import ClusterBudget, cluster_budget_ledger
from dlngraph.llm.cluster.limits import ClusterSlots, cluster_slot_table
from dlngraph.llm.limits import ModelLimiter
from dlngraph.spec.models import Limits


async def per_call_us(slot, calls: int, in_flight: int) -> float:  # noqa: ANN001 - an async context factory
    """Microseconds of wall time per slot held and given back, `in_flight` at once."""
    async def worker(count: int) -> None:
        for _ in range(count):
            async with slot():
                pass

    started = time.perf_counter()
    await asyncio.gather(*(worker(calls // in_flight) for _ in range(in_flight)))
    return (time.perf_counter() - started) / (calls // in_flight * in_flight) * 1e6


def charged(budget: Budget):  # noqa: ANN201 - an async context factory
    """A slot-like context that charges one call to `budget` and settles it."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def charge():  # noqa: ANN202
        settled = await budget.reserve("bench", 0)
        yield
        budget.settle(settled, 0)

    return charge


async def measure(calls: int, in_flight: int) -> list[tuple[str, float, float]]:
    local = ModelLimiter(Limits(max_concurrency=in_flight))
    table = cluster_slot_table("bench-cluster-limiter", in_flight)
    cluster = ClusterSlots.of_actor(table, holder="bench")
    rows = []
    for name, slot in (("in-process ModelLimiter", local.slot), ("Ray SlotTable actor", cluster.slot)):
        await per_call_us(slot, min(calls, 200), 1)  # warm up
        rows.append((name, await per_call_us(slot, calls, 1), await per_call_us(slot, calls, in_flight)))
    ray.kill(table)
    ledger = cluster_budget_ledger("bench-cluster-budget", 10 * calls, None)
    budgets = (("in-process Budget", Budget(max_calls=10 * calls)),
               ("Ray BudgetLedger, grants", ClusterBudget.of_actor(ledger, counts_tokens=False)))
    for name, budget in budgets:
        await per_call_us(charged(budget), min(calls, 200), 1)
        rows.append((name, await per_call_us(charged(budget), calls, 1),
                     await per_call_us(charged(budget), calls, in_flight)))
    ray.kill(ledger)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=32)
    args = parser.parse_args()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = asyncio.run(measure(args.calls, args.in_flight))
    finally:
        ray.shutdown()
    print(f"{'limiter or budget':<26} {'us/call, 1 at once':>20} {f'us/call, {args.in_flight} at once':>22}")
    for name, alone, together in rows:
        print(f"{name:<26} {alone:>20.1f} {together:>22.1f}")


if __name__ == "__main__":
    main()
