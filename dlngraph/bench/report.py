"""The benchmark's table and its last line, the one scripts read."""

from __future__ import annotations

from dlngraph.bench.measure import Measurement
from dlngraph.bench.run import BenchReport

COLUMNS = (
    f"{'case':<30} {'requests':>8} {'depth':>5} {'dlngraph':>9} {'layer-sync':>10} {'own':>5} {'groups':>6} {'http':>5} {'limit':>7}"
    f" {'speedup':>7} {'to limit':>8} {'staged':>7} {'to staged':>9} {'slots':>6} {'to slots':>8}"
)


def format_report(report: BenchReport) -> list[str]:
    server, machine = report.server, report.machine
    title = (
        f"dlngraph bench{' --quick' if report.quick else ''}: scripted server {server.describe()};"
        f" {machine.cores} cores, load average {machine.load_1min:.1f} at start"
    )
    if report.prompts_per_request > 1:
        title += f"; up to {report.prompts_per_request} prompts per request"
    lines = [
        title,
        "",
        COLUMNS,
        *(format_row(measurement) for measurement in report.measurements),
        "",
        "requests: sent by dlngraph (identical calls in flight are sent once); depth: rounds of latency at best;",
        "layer-sync: the paper's schedule, request for request, each request followed by the paper client's own time",
        "(own: openai's parsing, jinja2's compiles, ...: bench/paper_client.py, measured on the paper's code);",
        "groups: the baseline's mini-batches, one after the other; http: its HTTP requests (20 prompts at most each);",
        "limit = max(depth x latency, requests x latency / server concurrency); speedup = layer-sync / dlngraph;",
        "to limit = dlngraph / limit; dlngraph times are medians of repeated runs;",
        "staged = max(limit, max over rounds r of r x latency + requests that cannot start before round r",
        "x latency / server concurrency), from the case's own waits; to staged = dlngraph / staged;",
        "slots = the staged limit in whole latencies per server slot: max over r of (r + ceil(requests that cannot",
        "start before round r / server concurrency)) x latency; to slots = dlngraph / slots",
        format_saturation(report),
        "",
    ]
    for extra in report.extras:
        lines.extend(extra.lines)
    return lines


def format_row(m: Measurement) -> str:
    return (
        f"{m.case:<30} {m.requests:>8} {m.depth:>5} {m.dlngraph_s:>8.2f}s {m.baseline_s:>9.2f}s {m.baseline_client_s:>4.1f}s {m.baseline_groups:>6}"
        f" {m.baseline_http_requests:>5} {m.limit_s:>6.2f}s {m.speedup:>6.1f}x {m.ratio_to_limit:>8.2f} {m.staged_limit_s:>6.2f}s"
        f" {m.ratio_to_staged_limit:>9.2f} {m.slot_limit_s:>5.2f}s {m.ratio_to_slot_limit:>8.2f}"
    )


def format_saturation(report: BenchReport) -> str:
    """How many requests/s this machine serves at all, next to what the limit assumes."""
    server, saturation = report.server, report.saturation
    assumed = server.concurrency / server.latency_s
    return (
        f"independent calls through the same client and server: {saturation.requests} in {saturation.wall_s:.2f} s"
        f" = {saturation.requests_per_s:.0f} req/s (the limit assumes {assumed:.0f} req/s)"
    )


def summary_line(report: BenchReport) -> str:
    """The DLN-2 navigate step's figures and the client's: the last line `dlngraph bench` prints."""
    headline = report.headline
    return (
        f"speedup_vs_layer_sync={headline.speedup:.1f} ratio_to_staged={headline.ratio_to_staged_limit:.2f}"
        f" ratio_to_limit={headline.ratio_to_limit:.2f} client_ratio_to_bare={report.client_ratio_to_bare:.2f}"
        f" client_rps={report.client_rps:.0f}"
    )
