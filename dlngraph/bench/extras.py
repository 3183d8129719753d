"""Figures other parts of dlngraph measure, shown beside the scheduler's.

- the client stack's requests/s (`dlngraph.llm.client_bench.measure_client`);
- the local backend's scoring with and without prefix grouping
  (`dlngraph.llm.local_bench.measure_local_scoring`), which loads a model.

Each is optional: a missing module or a failing measurement becomes one "unavailable (reason)"
line, and the benchmark goes on. Each module may offer `format_table(result)`; without it the
result is printed as it is.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from typing import Any

import msgspec


class Extra(msgspec.Struct, kw_only=True):
    name: str
    lines: list[str]
    requests_per_s: float = 0.0
    """The headline rate, 0 when unavailable."""


def client_stack(quick: bool) -> Extra:
    """requests/s through `LanguageModel`; the best wall-clock rate over its levels."""
    outcome = _measure("client", "dlngraph.llm.client_bench", "measure_client", quick)
    if isinstance(outcome, Extra):
        return outcome
    module, result = outcome
    return Extra(name="client", lines=_format(module, result), requests_per_s=_best_rate(result))


def local_scoring(quick: bool) -> Extra:
    """The embedded model's scoring, with and without prefix grouping."""
    outcome = _measure("local scoring", "dlngraph.llm.local_bench", "measure_local_scoring", quick)
    if isinstance(outcome, Extra):
        return outcome
    module, result = outcome
    return Extra(name="local scoring", lines=_format(module, result))


def skipped(name: str, reason: str) -> Extra:
    return Extra(name=name, lines=[f"{name}: skipped ({reason})"])


def _measure(name: str, module_name: str, function_name: str, quick: bool) -> tuple[Any, Any] | Extra:
    """Import and run one measurement (sync or async); an `Extra` saying why on failure."""
    try:
        module = importlib.import_module(module_name)
        measure = getattr(module, function_name)
        result = measure(quick)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
    except Exception as error:  # noqa: BLE001 - any failure only makes this figure unavailable
        return Extra(name=name, lines=[f"{name}: unavailable ({type(error).__name__}: {error})"])
    return module, result


async def _awaited(result: Any) -> Any:
    return await result


def _format(module: Any, result: Any) -> list[str]:
    """The module's own `format_table(result)` if it has one, else the result as it is."""
    formatter = getattr(module, "format_table", None)
    if callable(formatter):
        return str(formatter(result)).splitlines()
    if isinstance(result, dict):
        return [f"{key}: {value}" for key, value in result.items()]
    return [str(result)]


def _best_rate(result: Any) -> float:
    """The highest `requests_per_s` found in the result (a number counts as itself)."""
    if isinstance(result, (int, float)):
        return float(result)
    if isinstance(result, dict):
        rates = [float(result["requests_per_s"])] if isinstance(result.get("requests_per_s"), (int, float)) else []
        rates += [_best_rate(value) for value in result.values() if isinstance(value, (dict, list))]
        return max(rates, default=0.0)
    if isinstance(result, list):
        return max((_best_rate(item) for item in result), default=0.0)
    return 0.0
