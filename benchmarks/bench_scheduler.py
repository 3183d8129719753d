"""The forward pass of every spec in specs/, under dlngraph's scheduler and under the paper's
layer-synchronous one, against the same scripted server in the same process.

    python benchmarks/bench_scheduler.py [--examples 20] [--latency-ms 200] [--concurrency 256]

For each spec: the measured wall time, the critical-path limit max(critical path x latency,
calls x latency / server concurrency) and the ratio of the two, for dlngraph (`run_forward`,
median of `--repeats` runs) and for the baseline (`run_layer_synchronous`: layer by layer,
mini-batches of 20 awaited in full), then the speedup.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from dlngraph.bench.cases import FORWARD_EXAMPLES, SPECS_DIR, forward_pass
from dlngraph.bench.measure import Measurement, measure, warm_up_case
from dlngraph.bench.models import bench_backend, paper_backend, warm_up
from dlngraph.bench.server import ServerSettings, server_process

HEADER = (
    f"{'spec':<15} {'calls':>6} {'path':>4} {'limit':>7} {'dlngraph':>9} {'ratio':>6}"
    f" {'layer-sync':>10} {'ratio':>6} {'speedup':>7}"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=FORWARD_EXAMPLES, help="inputs per forward pass")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--jitter", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=256, help="requests the server processes at once")
    parser.add_argument("--repeats", type=int, default=3, help="timed dlngraph runs per spec (median kept)")
    return parser.parse_args(argv)


async def measure_specs(base_url: str, server: ServerSettings, examples: int, repeats: int) -> list[Measurement]:
    cases = [forward_pass(path.stem, examples) for path in sorted(SPECS_DIR.glob("*.yaml"))]
    backend, paper = bench_backend(base_url, server.concurrency), paper_backend(base_url, server.concurrency)
    try:
        await warm_up(backend, server.concurrency)
        await warm_up_case(cases[0], backend, server)
        return [await measure(case, backend, paper, server, repeats=repeats) for case in cases]
    finally:
        await backend.aclose()
        await paper.aclose()


def format_row(spec: str, m: Measurement) -> str:
    return (
        f"{spec:<15} {m.requests:>6} {m.depth:>4} {m.limit_s:>6.2f}s {m.dlngraph_s:>8.2f}s {m.ratio_to_limit:>6.2f}"
        f" {m.baseline_s:>9.2f}s {m.baseline_s / m.limit_s:>6.2f} {m.speedup:>6.1f}x"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = ServerSettings(latency_s=args.latency_ms / 1000.0, jitter=args.jitter, concurrency=args.concurrency)
    with server_process(server) as process:
        measurements = asyncio.run(measure_specs(process.base_url, server, args.examples, max(1, args.repeats)))
    print(f"forward pass over {args.examples} examples; scripted server {server.describe()}")
    print(HEADER)
    for measurement in measurements:
        print(format_row(measurement.case.split()[0], measurement))
    print("path: LLM calls on the critical path; limit = max(path x latency, calls x latency / concurrency);")
    print("ratio = wall time / limit; speedup = layer-sync / dlngraph")
    return 0


if __name__ == "__main__":
    sys.exit(main())
