"""A long run: 100,000 requests at 512 in flight through the whole client stack against the
scripted server at zero latency, sampling memory, open file descriptors and sockets every
10,000 requests. After warm-up all three must stay flat, and the server must have seen exactly
the requests sent (none lost, none twice). tests/reliability/test_long_run.py runs it (slow).

    PYTHONPATH=. python benchmarks/bench_long_run.py [--requests N] [--in-flight N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from dlngraph.bench.client_probe import bench_model, current_rss_bytes, drive
from dlngraph.testing.process import ServerProcess

SAMPLE_EVERY = 10_000


def open_descriptors() -> tuple[int, int]:
    """(open file descriptors, of which sockets) of this process (Linux /proc)."""
    names = os.listdir("/proc/self/fd")
    sockets = 0
    for name in names:
        try:
            sockets += os.readlink(f"/proc/self/fd/{name}").startswith("socket:")
        except OSError:
            pass  # the descriptor os.listdir itself used, closed since
    return len(names), sockets


async def long_run(requests: int, in_flight: int) -> dict[str, Any]:
    samples = []
    async with ServerProcess() as server:
        model = bench_model(server.base_url, in_flight)
        try:
            for first in range(0, requests, SAMPLE_EVERY):
                await drive(model, min(SAMPLE_EVERY, requests - first), in_flight, first=first)
                fds, sockets = open_descriptors()
                samples.append({"requests": first + SAMPLE_EVERY, "rss_mb": round(current_rss_bytes() / 2**20, 1),
                                "fds": fds, "sockets": sockets})
        finally:
            await model.backend.aclose()
    sent = model.stats.snapshot().total("requests")
    return {"requests": requests, "in_flight": in_flight, "client_requests": sent,
            "server_requests": server.stats["requests"] if server.stats else None,
            "max_in_flight": model.stats.max_requests_in_flight, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--in-flight", type=int, default=512)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(long_run(args.requests, args.in_flight)), indent=2))


if __name__ == "__main__":
    main()
