"""Reading the usage counters that every logged iteration carries.

The trainer logs, per iteration, the change of `ModelPool.usage()` over that iteration as a
`run_format.Usage` record, which reads in JSON as

    {"total": {"calls": 336, "requests": 282, "prompt_tokens": 18649, ...},
     "by_phase": {"forward": {...}, "score": {...}}, "by_node": {...}, "by_model": {...}}

Sums and breakdowns work on that plain shape, whatever keys it has: a record is read as its
JSON, and every reader here treats a missing key as zero and ignores what is not a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

Usage = Mapping[str, Any]
"""Nested dicts whose leaves are numbers."""

Reading = Usage | msgspec.Struct
"""A usage as logged (`run_format.Usage`, `run_format.Counts`) or as its plain shape."""


def plain(usage: Reading | None) -> Usage:
    """The plain shape of a usage record (a mapping as it is; None, logged without a usage
    probe, as nothing)."""
    if usage is None:
        return {}
    return msgspec.to_builtins(usage) if isinstance(usage, msgspec.Struct) else usage

COUNTERS = ("calls", "requests", "cache_hits", "prompt_tokens", "completion_tokens")
"""The counters a report shows, in this order (a call answered from the cache sends no request)."""


def counter(usage: Reading | None, *keys: str) -> float:
    """The number at `usage[keys[0]][keys[1]]...`, or 0 if it is missing or not a number."""
    value: Any = plain(usage)
    for key in keys:
        if not isinstance(value, Mapping):
            return 0
        value = value.get(key, 0)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def tokens(counters: Reading | None) -> float:
    """Prompt plus completion tokens of one group of counters (e.g. `usage["total"]`)."""
    return counter(counters, "prompt_tokens") + counter(counters, "completion_tokens")


def total_tokens(usage: Reading | None) -> float:
    return tokens(plain(usage).get("total", {}))


def add(left: Reading, right: Reading) -> dict[str, Any]:
    """`left + right` key by key; the inverse of `dlngraph.dln.trainer.usage_delta`."""
    result: dict[str, Any] = dict(plain(left))
    for key, value in plain(right).items():
        mine = result.get(key)
        if isinstance(value, Mapping):
            result[key] = add(mine if isinstance(mine, Mapping) else {}, value)
        elif isinstance(value, (int, float)):
            result[key] = (mine if isinstance(mine, (int, float)) else 0) + value
    return result


def summed(usages: Iterable[Reading]) -> dict[str, Any]:
    """The usage of several iterations together."""
    total: dict[str, Any] = {}
    for usage in usages:
        total = add(total, usage)
    return total


def breakdowns(usage: Usage) -> dict[str, dict[str, Usage]]:
    """Each `by_<what>` grouping of `usage` (node, phase, model, ...), keyed by `<what>`."""
    return {
        key.removeprefix("by_"): {name: counters for name, counters in groups.items() if isinstance(counters, Mapping)}
        for key, groups in usage.items()
        if key.startswith("by_") and isinstance(groups, Mapping)
    }
