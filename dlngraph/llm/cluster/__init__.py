"""One endpoint's limits and one sweep's budget shared across a Ray cluster.

`limits`: a `SlotTable` actor of leased slots and rate buckets, `ClusterLimiter` in a model's
limiter's place; `budget`: a `BudgetLedger` actor granting calls and tokens in blocks,
`ClusterBudget` a run's budget drawn from it. Ray is imported only when an actor is made.
"""

from dlngraph.llm.cluster.budget import ClusterBudget
from dlngraph.llm.cluster.limits import ClusterLimiter

__all__ = ["ClusterBudget", "ClusterLimiter"]
