"""How fast and how lean the client stack is: requests/s and memory through `LanguageModel`.

A training step fires hundreds of calls at once, so the layer between the trainer and the
server must not become the bottleneck: the target is 3,000 requests/s on one core at zero
server latency, through the whole pipeline (limits, retries, deduplication, accounting, HTTP,
JSON) with the cache off. The scripted server runs in a subprocess, so it does not compete with
the client for the client's core.

Two figures per concurrency level:
- `requests_per_s`: wall-clock throughput; it depends on what else the machine is doing (the
  server needs a core too);
- `requests_per_cpu_s`: requests per second of the client process's own CPU time, i.e. what
  one core running only the client achieves. This is the figure the target is about, and it is
  far steadier on a shared machine.

Memory: the growth of the peak resident set (RSS) over a long run, which shows whether anything
is kept per request (the accounting keeps bounded histograms, the dedup table empties itself).

A bare client is measured beside the stack, against the same server at the same in-flight
levels: one aiohttp session posting the same `/completions` body and decoding the answer, with
nothing else around it. The ratio (stack / bare, wall clock) is what the pipeline costs, free of
what the machine and the server cost both of them. Each level runs the stack and the bare
client three times, alternating, and keeps each one's median run: a single pair of runs moves
by tens of percent on a shared two-core machine, where the server needs a core too.

`benchmarks/bench_client.py` prints these as a table; `dlngraph bench` imports
`measure_client`.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from collections.abc import Iterable
from typing import Any

import aiohttp
import msgspec

from dlngraph.llm.client import LanguageModel
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.llm.types import GenerateRequest
from dlngraph.spec.models import Limits
from dlngraph.testing.process import ServerProcess

TARGET_REQUESTS_PER_S = 3000
IN_FLIGHT_LEVELS = (64, 256, 1024)


class BenchSizes:
    """How many requests each measurement sends (`quick` is for smoke runs and CI)."""

    def __init__(self, quick: bool) -> None:
        self.throughput_requests = 2_000 if quick else 10_000
        self.runs = 1 if quick else 3
        """Runs of the stack and of the bare client at each level, alternating; medians kept."""
        self.memory_requests = 10_000 if quick else 100_000
        self.memory_in_flight = 256


async def measure_client(quick: bool = False) -> dict[str, Any]:
    """Start the scripted server, measure, stop it; a plain dict for tables and JSON.

        {"target_requests_per_s": 3000,
         "throughput": [{"in_flight", "requests", "wall_s", "cpu_s", "requests_per_s",
                         "requests_per_cpu_s"}, ...],
         "memory": {"requests", "in_flight", "rss_start_mb", "rss_peak_growth_mb",
                    "rss_end_growth_mb", "requests_per_s", "requests_per_cpu_s"},
         "bare": [the same rows as "throughput", for a bare aiohttp client]}

    The memory run goes first: the peak RSS of a process never comes down, so it is only
    meaningful before the 1024-in-flight run has raised it.
    """
    sizes = BenchSizes(quick)
    async with ServerProcess() as server:
        memory = await measure_memory(server.base_url, sizes.memory_requests, sizes.memory_in_flight, server)
        throughput, bare = [], []
        for in_flight in IN_FLIGHT_LEVELS:
            stack_runs, bare_runs = [], []
            for _ in range(sizes.runs):  # interleaved, so that a busy moment of the machine hits both
                stack_runs.append(await measure_throughput(server.base_url, sizes.throughput_requests, in_flight, server))
                bare_runs.append(await measure_bare_throughput(server.base_url, sizes.throughput_requests, in_flight, server))
            throughput.append(median_run(stack_runs))
            bare.append(median_run(bare_runs))
    return {"target_requests_per_s": TARGET_REQUESTS_PER_S, "throughput": throughput, "memory": memory, "bare": bare}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median requests/s, with every run's requests/s under `runs_requests_per_s`."""
    ordered = sorted(runs, key=lambda run: run["requests_per_s"])
    return {**ordered[len(ordered) // 2], "runs_requests_per_s": [run["requests_per_s"] for run in runs]}


async def measure_throughput(
    base_url: str, requests: int, in_flight: int, server: ServerProcess | None = None
) -> dict[str, Any]:
    """`requests` distinct generate calls, `in_flight` at a time, after a warm-up that opens
    the connections (connection set-up is not what is being measured)."""
    model = bench_model(base_url, in_flight)
    try:
        await drive(model, in_flight * 2, in_flight, first=-in_flight * 2)
        timing = await timed(drive(model, requests, in_flight), server)
    finally:
        await model.backend.aclose()
    return {"in_flight": in_flight, "requests": requests, **rates(requests, timing)}


async def measure_bare_throughput(
    base_url: str, requests: int, in_flight: int, server: ServerProcess | None = None
) -> dict[str, Any]:
    """`measure_throughput` for a bare aiohttp client: the same bodies, the same warm-up."""
    async with bare_session(in_flight) as session:
        url = f"{base_url.rstrip('/')}/completions"
        await drive_bare(session, url, in_flight * 2, in_flight, first=-in_flight * 2)
        timing = await timed(drive_bare(session, url, requests, in_flight), server)
    return {"in_flight": in_flight, "requests": requests, **rates(requests, timing)}


def bare_session(in_flight: int) -> aiohttp.ClientSession:
    """The bare client: one aiohttp session with `in_flight` pooled connections, nothing else."""
    connector = aiohttp.TCPConnector(limit=in_flight)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())


async def drive_bare(session: aiohttp.ClientSession, url: str, requests: int, in_flight: int, *, first: int = 0) -> None:
    """`drive` with no client stack: POST the body `OpenAIBackend.generate` sends."""
    bodies = (
        {"model": "scripted", "max_tokens": 16, "temperature": 0.0, "n": 1, "prompt": f"benchmark request {number}"}
        for number in range(first, first + requests)
    )
    await post_bare(session, url, bodies, in_flight)


async def post_bare(session: aiohttp.ClientSession, url: str, bodies: Iterable[dict[str, Any]], in_flight: int) -> None:
    """POST `bodies` to `url` from `in_flight` workers, each decoding the answer and checking
    its status and that it has a text."""
    pending = iter(bodies)
    encode, decode = msgspec.json.Encoder().encode, msgspec.json.Decoder().decode
    headers = {"Content-Type": "application/json"}

    async def worker() -> None:
        for body in pending:
            async with session.post(url, data=encode(body), headers=headers) as response:
                answer = decode(await response.read())
                if response.status != 200 or not isinstance(answer["choices"][0]["text"], str):
                    raise RuntimeError(f"the bare client got HTTP {response.status}: {answer}")

    await asyncio.gather(*(worker() for _ in range(in_flight)))


def ratios_to_bare(results: dict[str, Any]) -> list[tuple[int, float]]:
    """(in flight, stack req/s / bare req/s) at each level both were measured."""
    bare = {row["in_flight"]: row["requests_per_s"] for row in results.get("bare", [])}
    return [
        (row["in_flight"], row["requests_per_s"] / bare[row["in_flight"]])
        for row in results["throughput"] if row["in_flight"] in bare
    ]


async def measure_memory(
    base_url: str, requests: int, in_flight: int, server: ServerProcess | None = None
) -> dict[str, Any]:
    """RSS at the start, and how far its peak and its final value rose over a long run."""
    model = bench_model(base_url, in_flight)
    try:
        await drive(model, in_flight * 2, in_flight, first=-in_flight * 2)
        start = current_rss_bytes()
        timing = await timed(drive(model, requests, in_flight), server)
        peak, end = peak_rss_bytes(), current_rss_bytes()
    finally:
        await model.backend.aclose()
    return {
        "requests": requests,
        "in_flight": in_flight,
        "rss_start_mb": mb(start),
        "rss_peak_growth_mb": mb(max(0, peak - start)),
        "rss_end_growth_mb": mb(end - start),
        **rates(requests, timing),
    }


def bench_model(base_url: str, in_flight: int) -> LanguageModel:
    """The full stack with the cache off and room for `in_flight` concurrent requests."""
    backend = OpenAIBackend(base_url=base_url, model="scripted", max_connections=in_flight)
    return LanguageModel("bench", backend, limits=Limits(max_concurrency=in_flight))


async def drive(model: LanguageModel, requests: int, in_flight: int, *, first: int = 0) -> None:
    """Send `requests` distinct requests through `in_flight` workers, each awaiting its calls
    one after another, as a saturated trainer would keep the pipeline full."""
    numbers = iter(range(first, first + requests))

    async def worker() -> None:
        for number in numbers:
            await model.generate(GenerateRequest(prompt=f"benchmark request {number}", max_tokens=16))

    await asyncio.gather(*(worker() for _ in range(in_flight)))


class Timing:
    __slots__ = ("cpu_s", "server_cpu_s", "wall_s")

    def __init__(self, wall_s: float, cpu_s: float, server_cpu_s: float | None) -> None:
        self.wall_s = wall_s
        self.cpu_s = cpu_s
        self.server_cpu_s = server_cpu_s


async def timed(work: Any, server: ServerProcess | None = None) -> Timing:
    """Wall-clock and own-process CPU time of awaiting `work` (and the server's CPU time, when
    it can be read: if the server is busy all along, it is the bottleneck of the wall clock)."""
    server_cpu = server.cpu_seconds() if server is not None else None
    wall, cpu = time.perf_counter(), time.process_time()
    await work
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if server_cpu is not None and server is not None:
        after = server.cpu_seconds()
        server_cpu = after - server_cpu if after is not None else None
    return Timing(wall, cpu, server_cpu)


def rates(requests: int, timing: Timing) -> dict[str, float | None]:
    server_busy = None if timing.server_cpu_s is None else round(timing.server_cpu_s / timing.wall_s, 2)
    return {
        "wall_s": round(timing.wall_s, 3),
        "cpu_s": round(timing.cpu_s, 3),
        "requests_per_s": round(requests / timing.wall_s, 1),
        "requests_per_cpu_s": round(requests / timing.cpu_s, 1) if timing.cpu_s > 0 else float("inf"),
        "client_busy": round(timing.cpu_s / timing.wall_s, 2),
        "server_busy": server_busy,
    }


def current_rss_bytes() -> int:
    """Resident set size now (Linux: /proc/self/statm; elsewhere the peak is the best we have)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def mb(size: int) -> float:
    return round(size / 2**20, 1)


def format_table(results: dict[str, Any]) -> str:
    """The figures as a plain-text table, with a verdict against the target."""
    target = results["target_requests_per_s"]
    header = (
        f"{'in flight':>9}  {'requests':>8}  {'wall s':>7}  {'req/s':>7}  {'req/CPU-s':>9}  {'client':>6}"
        f"  {'server':>6}  vs target {target} req/s on one core"
    )
    lines = [header]
    for row in results["throughput"]:
        verdict = "ok" if row["requests_per_cpu_s"] >= target else "BELOW"
        lines.append(
            f"{row['in_flight']:>9}  {row['requests']:>8}  {row['wall_s']:>7.2f}  {row['requests_per_s']:>7.0f}"
            f"  {row['requests_per_cpu_s']:>9.0f}  {percent(row['client_busy']):>6}  {percent(row['server_busy']):>6}"
            f"  {verdict}"
        )
    bare = {row["in_flight"]: row for row in results.get("bare", [])}
    for in_flight, ratio in ratios_to_bare(results):
        row = bare[in_flight]
        lines.append(
            f"{'bare':>4} {in_flight:>4}  {row['requests']:>8}  {row['wall_s']:>7.2f}  {row['requests_per_s']:>7.0f}"
            f"  {row['requests_per_cpu_s']:>9.0f}  {percent(row['client_busy']):>6}  {percent(row['server_busy']):>6}"
            f"  stack / bare {ratio:.2f}"
        )
    runs = [
        f"{label} {row['in_flight']}: {'/'.join(f'{rps:.0f}' for rps in row['runs_requests_per_s'])}"
        for label, rows in (("stack", results["throughput"]), ("bare", results.get("bare", [])))
        for row in rows if len(row.get("runs_requests_per_s", [])) > 1
    ]
    if runs:
        lines.append("req/s of each interleaved run (the rows above are the medians): " + ", ".join(runs))
    memory = results["memory"]
    lines.append(
        f"memory: {memory['requests']} requests at {memory['in_flight']} in flight"
        f" ({memory['requests_per_s']:.0f} req/s, {memory['requests_per_cpu_s']:.0f} req/CPU-s):"
        f" RSS {memory['rss_start_mb']} MiB at start, peak +{memory['rss_peak_growth_mb']} MiB,"
        f" end +{memory['rss_end_growth_mb']} MiB"
    )
    lines.append(
        "req/s: wall clock; req/CPU-s: per second of the client's own CPU time (what one core would"
        " do); client/server: how busy each process was (a busy server bounds the wall clock);"
        " bare: an aiohttp session alone, same bodies, same server, same in-flight levels"
    )
    return "\n".join(lines)


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction:.0%}"
