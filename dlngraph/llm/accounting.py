"""Who called which model how often, at what cost and how fast.

Calls are grouped by (model, node, phase), from the caller's `Tag`. Counters are plain integers
updated in place (the hot path does a dict lookup and a few additions); `snapshot()` turns them
into msgspec Structs for events and reports. Latencies go into a fixed log-spaced histogram, so
memory stays bounded however long a run is, and percentiles are exact to within 5%.

A call is what a caller awaited; a request is what was sent to a backend (a call answered from
the cache or by joining an identical call in flight sends none, a retried call sends several).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Literal

import msgspec

from dlngraph.llm.types import Tag, Usage

logger = logging.getLogger(__name__)

CallEvent = Literal["start", "end"]
Listener = Callable[[CallEvent, str, Tag], None]
"""Told `(event, model, tag)` at the start and end of every call; must be cheap."""


class LatencyHistogram:
    """Counts of latencies in buckets growing by 5%, from 0.1 ms to about 8 hours."""

    MIN_S = 1e-4
    GROWTH = 1.05
    BUCKETS = 400
    _LOG_GROWTH = math.log(GROWTH)

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * self.BUCKETS
        self.total = 0

    def add(self, seconds: float) -> None:
        if seconds <= self.MIN_S:
            index = 0
        else:
            index = min(self.BUCKETS - 1, 1 + int(math.log(seconds / self.MIN_S) / self._LOG_GROWTH))
        self.counts[index] += 1
        self.total += 1

    def percentile(self, fraction: float) -> float | None:
        """Upper edge of the bucket holding the `fraction` quantile (None when empty)."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(fraction * self.total))
        seen = 0
        for index, count in enumerate(self.counts):  # noqa: B007 (index is read after the loop)
            seen += count
            if seen >= rank:
                break
        return self.MIN_S * self.GROWTH**index


class Counters:
    """The running counts of one (model, node, phase) group."""

    __slots__ = (
        "cache_hits",
        "calls",
        "completion_tokens",
        "deduplicated",
        "errors",
        "latency",
        "prompt_tokens",
        "requests",
        "retries",
    )

    def __init__(self) -> None:
        self.calls = 0
        self.cache_hits = 0
        self.deduplicated = 0
        self.errors = 0
        self.retries = 0
        self.requests = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.latency = LatencyHistogram()

    def count_retry(self, error: Exception, delay_s: float) -> None:
        """A `Retry` `on_retry` callback: one more attempt will be made."""
        self.retries += 1

    def add_usage(self, usage: Usage) -> None:
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens


class GroupStats(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    node: str
    phase: str
    calls: int
    cache_hits: int
    deduplicated: int
    errors: int
    retries: int
    requests: int
    """Requests sent to the backend (retries included)."""
    prompt_tokens: int
    completion_tokens: int
    latency_p50_s: float | None
    latency_p90_s: float | None
    latency_p99_s: float | None
    """Latencies of calls that waited for a backend (not cache hits), as the caller saw them."""


class InFlight(msgspec.Struct, frozen=True, kw_only=True):
    current: int
    maximum: int


class StatsSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    groups: list[GroupStats]
    requests_in_flight: InFlight

    def total(self, field: str) -> int:
        """Sum of one counter over every group, e.g. `snapshot.total("calls")`."""
        return sum(getattr(group, field) for group in self.groups)


class _Gauge:
    __slots__ = ("current", "maximum")

    def __init__(self) -> None:
        self.current = 0
        self.maximum = 0

    def up(self) -> None:
        self.current += 1
        self.maximum = max(self.maximum, self.current)

    def freeze(self) -> InFlight:
        return InFlight(current=self.current, maximum=self.maximum)


class CallStats:
    """Accounting shared by every model of a run (one per `ModelPool`)."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, Tag], Counters] = {}
        self._in_flight = _Gauge()
        self._listeners: list[Listener] = []

    def counters(self, model: str, tag: Tag) -> Counters:
        key = (model, tag)
        counters = self._groups.get(key)
        if counters is None:
            counters = self._groups[key] = Counters()
        return counters

    def call_started(self, model: str, tag: Tag) -> Counters:
        """Count a new call and return its group's counters for the rest of the call."""
        counters = self.counters(model, tag)
        counters.calls += 1
        if self._listeners:
            self._notify("start", model, tag)
        return counters

    def call_finished(self, model: str, tag: Tag) -> None:
        if self._listeners:
            self._notify("end", model, tag)

    def request_started(self) -> None:
        self._in_flight.up()

    def request_finished(self) -> None:
        self._in_flight.current -= 1

    @property
    def requests_in_flight(self) -> int:
        return self._in_flight.current

    @property
    def max_requests_in_flight(self) -> int:
        """The most requests that were in flight at once since these stats were created."""
        return self._in_flight.maximum

    def groups(self) -> list[tuple[str, Tag, Counters]]:
        """Every (model, tag) group with its live counters (read them, do not change them)."""
        return [(model, tag, counters) for (model, tag), counters in self._groups.items()]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on every call start and end; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self, event: CallEvent, model: str, tag: Tag) -> None:
        for listener in self._listeners:
            try:
                listener(event, model, tag)
            except Exception:  # a display bug must not fail the call it displays
                logger.exception("stats listener %r failed", listener)

    def snapshot(self) -> StatsSnapshot:
        groups = [_freeze(model, tag, counters) for (model, tag), counters in self._groups.items()]
        groups.sort(key=lambda group: (group.model, group.node, group.phase))
        return StatsSnapshot(
            groups=groups,
            requests_in_flight=self._in_flight.freeze(),
        )


def _freeze(model: str, tag: Tag, counters: Counters) -> GroupStats:
    latency = counters.latency
    return GroupStats(
        model=model,
        node=tag.node,
        phase=tag.phase,
        calls=counters.calls,
        cache_hits=counters.cache_hits,
        deduplicated=counters.deduplicated,
        errors=counters.errors,
        retries=counters.retries,
        requests=counters.requests,
        prompt_tokens=counters.prompt_tokens,
        completion_tokens=counters.completion_tokens,
        latency_p50_s=latency.percentile(0.50),
        latency_p90_s=latency.percentile(0.90),
        latency_p99_s=latency.percentile(0.99),
    )
