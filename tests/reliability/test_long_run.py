"""A long run (benchmarks/bench_long_run.py): 100,000 requests at 512 in flight at zero
latency; none lost or sent twice, and memory, file descriptors and sockets flat after warm-up."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.reliability.cli import ROOT

MEMORY_GROWTH_MB = 8.0
"""Allowed RSS growth after warm-up: allocator noise, far below a leak of ~100 bytes a request."""


@pytest.mark.slow
def test_a_hundred_thousand_requests_leave_memory_descriptors_and_sockets_flat() -> None:
    result = subprocess.run([sys.executable, "benchmarks/bench_long_run.py"], capture_output=True, text=True, cwd=ROOT, timeout=1800)
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["client_requests"] == run["server_requests"] == 100_000
    assert run["max_in_flight"] == 512
    warm = run["samples"][1:]  # after the first 10,000 requests
    assert len({sample["fds"] for sample in warm}) == 1 and len({sample["sockets"] for sample in warm}) == 1
    assert warm[0]["sockets"] <= 512 + 8  # one connection per slot, and the loop's own
    assert warm[-1]["rss_mb"] - warm[0]["rss_mb"] < MEMORY_GROWTH_MB
