"""The client benchmark's pieces, at toy sizes (the figures themselves are not asserted: speed
is judged by `benchmarks/bench_client.py`, never by tests)."""

from __future__ import annotations

import aiohttp
import pytest

from dlngraph.bench.client_probe import (
    format_table,
    measure_bare_throughput,
    measure_memory,
    measure_throughput,
    median_run,
    ratios_to_bare,
)
from dlngraph.bench.extras import lowest_ratio_to_bare
from dlngraph.testing.process import ServerProcess


async def test_throughput_and_memory_rows_over_a_real_server(scripted_server):
    row = await measure_throughput(scripted_server.base_url, 200, 16)
    assert row["in_flight"] == 16 and row["requests"] == 200
    assert row["requests_per_s"] > 0 and row["requests_per_cpu_s"] > 0
    assert scripted_server.stats.requests == 200 + 2 * 16  # the measured run and its warm-up
    memory = await measure_memory(scripted_server.base_url, 100, 8)
    assert memory["requests"] == 100 and memory["rss_start_mb"] > 0 and memory["rss_peak_growth_mb"] >= 0
    table = format_table({"target_requests_per_s": 3000, "throughput": [row], "memory": memory})
    assert "in flight" in table and "memory: 100 requests" in table
    assert row["server_busy"] is None  # an in-process server is not measured separately


async def test_server_subprocess_serves_and_stops():
    async with ServerProcess() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session, session.get(server.base_url + "/models") as response:
            assert response.status == 200
        row = await measure_throughput(server.base_url, 100, 8, server)
        assert row["server_busy"] is None or row["server_busy"] >= 0


async def test_the_bare_client_sends_the_same_requests_and_its_ratio_is_reported(scripted_server):
    stack = await measure_throughput(scripted_server.base_url, 60, 8)
    before = scripted_server.stats.requests
    bare = await measure_bare_throughput(scripted_server.base_url, 60, 8)
    assert bare["in_flight"] == 8 and bare["requests"] == 60 and bare["requests_per_s"] > 0
    assert scripted_server.stats.requests - before == 60 + 2 * 8  # the measured run and its warm-up
    results = {"target_requests_per_s": 3000, "throughput": [stack], "bare": [bare],
               "memory": await measure_memory(scripted_server.base_url, 20, 4)}
    [(level, ratio)] = ratios_to_bare(results)
    assert level == 8 and ratio == pytest.approx(stack["requests_per_s"] / bare["requests_per_s"])
    assert lowest_ratio_to_bare(results) == ratio
    assert f"stack / bare {ratio:.2f}" in format_table(results)
    assert lowest_ratio_to_bare({"throughput": [stack]}) == 0.0  # no bare rows: not measured


def test_each_level_keeps_the_median_of_its_interleaved_runs() -> None:
    runs = [{"in_flight": 64, "requests_per_s": rps, "wall_s": 10_000 / rps} for rps in (5000.0, 3000.0, 4000.0)]
    median = median_run(runs)
    assert median["requests_per_s"] == 4000.0 and median["wall_s"] == 2.5
    assert median["runs_requests_per_s"] == [5000.0, 3000.0, 4000.0]  # in the order they ran


def test_the_table_lists_every_interleaved_run() -> None:
    memory = {"requests": 10, "in_flight": 2, "rss_start_mb": 1.0, "rss_peak_growth_mb": 0.0, "rss_end_growth_mb": 0.0,
              "requests_per_s": 1.0, "requests_per_cpu_s": 1.0}
    row = {"in_flight": 64, "requests": 10, "wall_s": 1.0, "requests_per_s": 4000.0, "requests_per_cpu_s": 4000.0,
           "client_busy": 1.0, "server_busy": None}
    table = format_table({
        "target_requests_per_s": 3000, "memory": memory,
        "throughput": [{**row, "runs_requests_per_s": [5000.0, 3000.0, 4000.0]}],
        "bare": [{**row, "runs_requests_per_s": [4000.0, 4100.0, 3900.0]}],
    })
    assert "stack 64: 5000/3000/4000, bare 64: 4000/4100/3900" in table
    assert "runs" not in format_table({"target_requests_per_s": 3000, "memory": memory, "throughput": [row]})
