"""Figures other parts of dlngraph measure, shown beside the scheduler's.

- the client stack's requests/s, and its ratio to a bare aiohttp client's at the same levels
  (`dlngraph.bench.client_probe.measure_client`);
- the local backend's scoring with and without prefix grouping
  (`dlngraph.bench.local_probe.measure_local_scoring`), which loads a model.

Each is optional: a failing measurement (no llama.cpp installed, no free port) becomes one
"unavailable (reason)" line, and the benchmark goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from dlngraph.bench import client_probe, local_probe


class Extra(msgspec.Struct, kw_only=True):
    name: str
    lines: list[str]
    requests_per_s: float = 0.0
    """The headline rate, 0 when unavailable."""
    ratio_to_bare: float = 0.0
    """The client stack's requests/s over a bare aiohttp client's, at its worst level; 0 when
    unavailable."""


def client_stack(quick: bool) -> Extra:
    """requests/s through `LanguageModel` at each level in flight; the headline rate is the
    lowest level's, since the target (3,000 req/s) holds only if every level reaches it."""
    return _measured("client", lambda: client_probe.measure_client(quick), _client_extra)


def local_scoring(quick: bool) -> Extra:
    """The embedded model's scoring, with and without prefix grouping."""
    return _measured(
        "local scoring",
        lambda: local_probe.measure_local_scoring(quick),
        lambda figures: Extra(name="local scoring", lines=local_probe.format_table(figures).splitlines()),
    )


def skipped(name: str, reason: str) -> Extra:
    return Extra(name=name, lines=[f"{name}: skipped ({reason})"])


def lowest_rate(results: dict[str, Any]) -> float:
    """The lowest requests/s over the client's in-flight levels."""
    return min(level["requests_per_s"] for level in results["throughput"])


def lowest_ratio_to_bare(results: dict[str, Any]) -> float:
    """The client stack's lowest ratio to the bare client over the in-flight levels."""
    return min((ratio for _, ratio in client_probe.ratios_to_bare(results)), default=0.0)


def _client_extra(results: dict[str, Any]) -> Extra:
    return Extra(
        name="client", lines=client_probe.format_table(results).splitlines(),
        requests_per_s=lowest_rate(results), ratio_to_bare=lowest_ratio_to_bare(results),
    )


def _measured(
    name: str,
    measure: Callable[[], Coroutine[Any, Any, dict[str, Any]]],
    present: Callable[[dict[str, Any]], Extra],
) -> Extra:
    """Run one measurement in its own event loop; on failure, an `Extra` saying why."""
    try:
        figures = asyncio.run(measure())
    except Exception as error:  # noqa: BLE001 - any failure only makes this figure unavailable
        return Extra(name=name, lines=[f"{name}: unavailable ({type(error).__name__}: {error})"])
    return present(figures)
