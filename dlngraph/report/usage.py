"""Sums and breakdowns of the usage records that every logged iteration carries.

The trainer logs, per iteration, the change of `ModelPool.usage()` over that iteration as a
`run_format.Usage` record: the `Counts` of all calls (`total`), the same counters by phase, node
and model, and with endpoint pools each replica's `EndpointCounts`. A report adds the records of
a run together and shows the sum broken down.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import msgspec

from dlngraph.dln.run_format import Counts, EndpointCounts, Usage

COUNTERS = ("calls", "requests", "cache_hits", "prompt_tokens", "completion_tokens")
"""The counters a report shows, in this order (a call answered from the cache sends no request)."""

Counters = TypeVar("Counters", Counts, EndpointCounts)


def tokens(counts: Counts) -> int:
    """Prompt plus completion tokens of one group of calls (e.g. `usage.total`)."""
    return counts.prompt_tokens + counts.completion_tokens


def total_tokens(usage: Usage | None) -> int:
    """Every token of `usage`; 0 for an iteration logged without a usage probe (None)."""
    return tokens(usage.total) if usage is not None else 0


def add(left: Usage, right: Usage) -> Usage:
    """`left + right` counter by counter; the inverse of `dlngraph.dln.trainer.usage_delta`."""
    return Usage(
        total=_plus(left.total, right.total),
        by_phase=_merged(left.by_phase, right.by_phase),
        by_node=_merged(left.by_node, right.by_node),
        by_model=_merged(left.by_model, right.by_model),
        by_endpoint=_merged_endpoints(left.by_endpoint, right.by_endpoint),
        in_flight=left.in_flight + right.in_flight,
        max_in_flight=left.max_in_flight + right.max_in_flight,
    )


def summed(usages: Iterable[Usage]) -> Usage:
    """The usage of several iterations together (all zero for none)."""
    total = Usage()
    for usage in usages:
        total = add(total, usage)
    return total


def breakdowns(usage: Usage) -> dict[str, dict[str, Counts]]:
    """The counters of `usage` grouped by phase, node and model, keyed by `phase`, `node`, `model`.
    (Endpoint replicas count other things: `usage.by_endpoint`.)"""
    return {"phase": usage.by_phase, "node": usage.by_node, "model": usage.by_model}


def _plus(left: Counters, right: Counters) -> Counters:
    return type(left)(**{name: getattr(left, name) + getattr(right, name) for name in left.__struct_fields__})


def _merged(left: dict[str, Counters], right: dict[str, Counters]) -> dict[str, Counters]:
    merged = dict(left)
    for name, counts in right.items():
        merged[name] = _plus(merged[name], counts) if name in merged else counts
    return merged


def _merged_endpoints(
    left: dict[str, EndpointCounts] | msgspec.UnsetType, right: dict[str, EndpointCounts] | msgspec.UnsetType
) -> dict[str, EndpointCounts] | msgspec.UnsetType:
    """Replicas of both sides; unset (absent from the file) only when neither side has any."""
    if left is msgspec.UNSET:
        return right
    if right is msgspec.UNSET:
        return left
    return _merged(left, right)
