"""The zero-cost makespan of benchmarks/bench_server_bound.py: the latency spread alone."""

from __future__ import annotations

import math

import pytest

from dlngraph.bench.server import ServerSettings
from tests.bench import load_benchmark


@pytest.mark.parametrize("requests", [1, 256, 257, 1448])
def test_without_a_spread_the_makespan_is_whole_latencies_per_slot(requests: int) -> None:
    server = ServerSettings(latency_s=0.2, jitter=0.0, concurrency=256)
    makespan = load_benchmark("bench_server_bound").zero_cost_makespan(requests, server, draws=3)
    assert makespan == pytest.approx(math.ceil(requests / 256) * 0.2)


def test_the_spread_puts_the_makespan_above_the_fluid_term_and_below_whole_slowest_latencies() -> None:
    server = ServerSettings(latency_s=0.2, jitter=0.2, concurrency=256)
    makespan = load_benchmark("bench_server_bound").zero_cost_makespan(1448, server, draws=20)
    assert 1448 * 0.2 / 256 < makespan < math.ceil(1448 / 256) * 0.24
