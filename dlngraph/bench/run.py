"""`dlngraph bench` end to end: start the server, measure every case, gather the extras.

Everything is measured in one process against one scripted server in a subprocess (so the
server has its own core), one case after another, never two at a time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import msgspec

from dlngraph.bench.cases import HEADLINE, Case, bench_cases
from dlngraph.bench.extras import Extra, client_stack, local_scoring, skipped
from dlngraph.bench.measure import (
    Measurement,
    Saturation,
    measure,
    measure_saturation,
    warm_up_case,
)
from dlngraph.bench.models import bench_backend, paper_backend, warm_up
from dlngraph.bench.server import ServerSettings, server_process

Progress = Callable[[str], None]

FULL_SERVER = ServerSettings(latency_s=0.200, jitter=0.2, concurrency=256)
QUICK_SERVER = ServerSettings(latency_s=0.050, jitter=0.2, concurrency=256)
SATURATION_REQUESTS = 1440
"""About the number of score calls of the headline step."""


class BenchPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What one `dlngraph bench` measures, and against which server."""

    quick: bool
    server: ServerSettings
    cases: list[Case]
    repeats: int = 3
    saturation_requests: int = SATURATION_REQUESTS
    client: bool = True
    local: bool = True
    prompts_per_request: int = 1
    """Calls per `/completions` request (`ModelSpec.prompts_per_request`) under dlngraph's
    schedule; the baseline always sends a mini-batch's prompts in one request, as the paper does."""


def default_plan(
    *, quick: bool, local: bool = True, client: bool = True, repeats: int = 3, prompts_per_request: int = 1,
    jitter: float | None = None,
) -> BenchPlan:
    """The bench's cases and server; `jitter` replaces the server's latency spread."""
    server = QUICK_SERVER if quick else FULL_SERVER
    if jitter is not None:
        server = msgspec.structs.replace(server, jitter=jitter)
    return BenchPlan(
        quick=quick, server=server, cases=bench_cases(quick),
        repeats=repeats, client=client, local=local, prompts_per_request=prompts_per_request,
    )


class Machine(msgspec.Struct, frozen=True, kw_only=True):
    """What else was running: timings on a busy machine are slower and noisier."""

    cores: int
    load_1min: float

    @classmethod
    def now(cls) -> Machine:
        return cls(cores=os.cpu_count() or 1, load_1min=os.getloadavg()[0])


class BenchReport(msgspec.Struct, kw_only=True):
    quick: bool
    server: ServerSettings
    prompts_per_request: int
    machine: Machine
    measurements: list[Measurement]
    saturation: Saturation
    extras: list[Extra]

    @property
    def headline(self) -> Measurement:
        """The DLN-2 navigate step (the first case when a plan leaves it out)."""
        return next((m for m in self.measurements if m.case == HEADLINE.name), self.measurements[0])

    @property
    def client(self) -> Extra | None:
        return next((extra for extra in self.extras if extra.name == "client"), None)

    @property
    def client_rps(self) -> float:
        return self.client.requests_per_s if self.client is not None else 0.0

    @property
    def client_ratio_to_bare(self) -> float:
        return self.client.ratio_to_bare if self.client is not None else 0.0


def run_bench(plan: BenchPlan, progress: Progress = print) -> BenchReport:
    machine = Machine.now()
    progress(f"scripted server: {plan.server.describe()}; {len(plan.cases)} cases")
    with server_process(plan.server) as process:
        measurements, saturation = asyncio.run(measure_cases(process.base_url, plan, progress))
    return BenchReport(
        quick=plan.quick, server=plan.server, prompts_per_request=plan.prompts_per_request,
        machine=machine, measurements=measurements,
        saturation=saturation, extras=measure_extras(plan, progress),
    )


async def measure_cases(base_url: str, plan: BenchPlan, progress: Progress) -> tuple[list[Measurement], Saturation]:
    """Every case, then the saturation run, over warmed-up connection pools (dlngraph's, and
    the baseline's that batches a mini-batch's prompts)."""
    server = plan.server
    backend = bench_backend(base_url, server.concurrency, plan.prompts_per_request)
    paper = paper_backend(base_url, server.concurrency)
    try:
        await warm_up(backend, server.concurrency)
        await warm_up(paper, server.concurrency)
        await warm_up_case(plan.cases[0], backend, server)
        measurements = []
        for case in plan.cases:
            measurement = await measure(case, backend, paper, server, repeats=plan.repeats)
            progress(f"{case.name}: dlngraph {measurement.dlngraph_s:.2f} s, layer-sync {measurement.baseline_s:.2f} s")
            measurements.append(measurement)
        saturation = await measure_saturation(backend, server, plan.saturation_requests)
    finally:
        await backend.aclose()
        await paper.aclose()
    return measurements, saturation


def measure_extras(plan: BenchPlan, progress: Progress) -> list[Extra]:
    """The client stack's and the local backend's figures, after the server has stopped."""
    extras = []
    for name, wanted, measure_extra, flag in (
        ("client", plan.client, client_stack, "--no-client"),
        ("local scoring", plan.local, local_scoring, "--no-local"),
    ):
        if wanted:
            progress(f"{name} ...")
            extras.append(measure_extra(plan.quick))
        else:
            extras.append(skipped(name, flag))
    return extras
