"""What the bench's server can do for exactly a case's requests, with no client in the way.

The staged limit assumes each request holds a server slot for exactly the mean latency and costs
nothing else. This probe measures what the scripted server really serves: it runs a case
through dlngraph, records every request body with the (node, phase) that sent it, and replays
the bodies with a bare aiohttp client (no dependencies at all, one session, `in_flight` workers).
For each round r of the case's own waits, r x latency + the replay time of the requests that
cannot start before round r is then a bound measured on this server: no client can do better
than a bare client that never waits for anything. Requests are given their tag's first round
(proposed candidates' scores too), which only makes the replayed sets smaller and the bound
weaker.

Beside each replay the probe prints what a client and server that cost nothing would take for
the same number of requests: the makespan of that many latencies drawn within +-jitter on the
server's slots, each request going to the first free slot (the mean of 200 draws). The fluid
staged limit counts n x latency / slots instead, which the spread makes unreachable.

    python benchmarks/bench_server_bound.py                 # the headline DLN-2 step
    python benchmarks/bench_server_bound.py --in-flight 320 # the server's queue never empty
    python benchmarks/bench_server_bound.py --case "wide_ensemble forward x100"
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import heapq
import statistics
import time
from typing import Any

from dlngraph.bench.cases import HEADLINE, Case, bench_cases
from dlngraph.bench.client_probe import bare_session, post_bare
from dlngraph.bench.measure import case_start_rounds, run_case
from dlngraph.bench.models import bench_backend, bench_models, warm_up
from dlngraph.bench.server import ServerSettings, server_process
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.runs.gc_tuning import tune_gc
from dlngraph.testing import Latency

_tag: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar("tag", default=("", ""))
Recorded = list[tuple[tuple[str, str], dict[str, Any]]]


def record_bodies(into: Recorded) -> None:
    """Make every model call remember its tag, and every `/completions` body its call's tag."""
    call, post = LanguageModel._call, OpenAIBackend._post_completions_now

    async def tagged_call(self, kind, result_type, send, request, tag):
        _tag.set((tag.node, str(tag.phase)))
        return await call(self, kind, result_type, send, request, tag)

    async def recorded_post(self, payload):
        into.append((_tag.get(), dict(payload)))
        return await post(self, payload)

    LanguageModel._call, OpenAIBackend._post_completions_now = tagged_call, recorded_post


async def replay(url: str, bodies: list[dict[str, Any]], in_flight: int) -> float:
    """Seconds a bare aiohttp client takes to send `bodies` with `in_flight` workers (after
    one untimed pass that opens the connections)."""
    async with bare_session(in_flight) as session:
        await post_bare(session, f"{url}/completions", bodies, in_flight)
        started = time.perf_counter()
        await post_bare(session, f"{url}/completions", bodies, in_flight)
        return time.perf_counter() - started


def zero_cost_makespan(requests: int, server: ServerSettings, draws: int = 200, seed: int = 0) -> float:
    """Mean seconds `requests` calls take on the server's slots when nothing but their
    latencies, drawn as the scripted server draws them, costs time (each to the first free slot)."""
    latency = Latency(mean_s=server.latency_s, jitter=server.jitter, seed=seed)
    spans = []
    for _ in range(draws):
        free_at = [0.0] * server.concurrency
        for _ in range(requests):
            heapq.heappush(free_at, heapq.heappop(free_at) + latency.draw())
        spans.append(max(free_at))
    return statistics.mean(spans)


async def probe(case: Case, server: ServerSettings, url: str, in_flight: int, repeats: int) -> None:
    backend = bench_backend(url, server.concurrency)
    recorded: Recorded = []
    record_bodies(recorded)
    network = case.network()
    try:
        await warm_up(backend, server.concurrency)
        step_s = []
        for _ in range(repeats + 1):  # the first run is a warm-up
            recorded.clear()
            started = time.perf_counter()
            await run_case(case, network, bench_models(network, backend, server.concurrency))
            step_s.append(time.perf_counter() - started)
    finally:
        await backend.aclose()
    step = statistics.median(step_s[1:])
    starts = case_start_rounds(case, network)
    rounds = sorted({starts.get(tag, 0) for tag, _ in recorded})
    print(f"{case.name}: dlngraph {step:.3f} s (median of {repeats}), {len(recorded)} requests;"
          f" bare replay at {in_flight} in flight, {server.describe()}")
    print(f"{'round':>5} {'requests':>8} {'replay':>8} {'bound':>7} {'dlngraph/bound':>14} {'zero-cost':>9} {'fluid':>6}")
    bound = 0.0
    for start in rounds:
        later = [body for tag, body in recorded if starts.get(tag, 0) >= start]
        seconds = min([await replay(url, later, in_flight) for _ in range(repeats)])
        round_bound = start * server.latency_s + seconds
        bound = max(bound, round_bound)
        zero_cost = start * server.latency_s + zero_cost_makespan(len(later), server)
        fluid = start * server.latency_s + len(later) * server.latency_s / server.concurrency
        print(f"{start:>5} {len(later):>8} {seconds:>7.3f}s {round_bound:>6.3f}s {step / round_bound:>14.2f}"
              f" {zero_cost:>8.3f}s {fluid:>5.3f}s")
    print("bound = round x latency + replay; zero-cost = round x latency + the makespan of as many latencies on the"
          " server's slots; fluid = the staged limit's term")
    print(f"server_bound={bound:.3f} dlngraph={step:.3f} ratio_to_server_bound={step / bound:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = {case.name: case for case in bench_cases(quick=False)}
    parser.add_argument("--case", choices=sorted(names), default=HEADLINE.name)
    parser.add_argument("--in-flight", type=int, default=256, help="the bare client's workers")
    parser.add_argument("--jitter", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tune_gc()
    server = ServerSettings(jitter=args.jitter)
    with server_process(server) as process:
        asyncio.run(probe(names[args.case], server, process.base_url.rstrip("/"), args.in_flight, args.repeats))


if __name__ == "__main__":
    main()
