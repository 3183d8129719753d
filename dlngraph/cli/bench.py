"""`dlngraph bench`: how much faster dlngraph's scheduler is than the paper's, and how close
it gets to what the server allows.

A scripted OpenAI-compatible server (200 ms +-20% per request, 256 requests at once; 50 ms
with `--quick`) serves a DLN-2 training step (batch 10, 10 prompt and 5 hidden samples, memory 2),
the paper's navigate.sh step (10/10/10, memory 5) and a few other cases, each run under dlngraph's schedule and under the layer-synchronous one with
mini-batches of 20. The last line is for scripts:

    speedup_vs_layer_sync=X.X ratio_to_staged=Y.YY ratio_to_limit=Z.ZZ client_ratio_to_bare=W.WW client_rps=N

(`ratio_to_staged` and `ratio_to_limit`: the DLN-2 step's time over its staged limit and over the
plain limit; `client_rps` is the client stack's lowest requests/s over 64, 256 and 1024 calls in
flight, `client_ratio_to_bare` its lowest ratio to a bare aiohttp client at the same levels.)
"""

from __future__ import annotations

import argparse
import sys

from dlngraph.bench.report import format_report, summary_line
from dlngraph.bench.run import default_plan, run_bench
from dlngraph.cli import at_least_one

NAME = "bench"
HELP = "time dlngraph's scheduler against the paper's layer-synchronous one on a scripted server"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="50 ms latency and fewer cases (under a minute)")
    parser.add_argument("--no-local", dest="local", action="store_false",
                        help="skip the local backend's scoring figures (they load a model)")
    parser.add_argument("--no-client", dest="client", action="store_false",
                        help="skip the client stack's requests/s (client_rps=0)")
    parser.add_argument("--repeats", type=at_least_one, default=3, help="timed runs of each case under dlngraph (median kept)")
    parser.add_argument("--prompts-per-request", type=at_least_one, default=1, metavar="N",
                        help="send up to N calls per /completions request, under both schedules (default 1)")
    parser.add_argument("--jitter", type=_fraction, default=None, metavar="F",
                        help="the server's latency spread, a fraction of the mean (default 0.2: +-20%%); "
                             "0 shows what the spread itself costs a schedule")


def run(args: argparse.Namespace) -> int:
    plan = default_plan(
        quick=args.quick, local=args.local, client=args.client, repeats=args.repeats,
        prompts_per_request=args.prompts_per_request, jitter=args.jitter,
    )
    report = run_bench(plan, progress=_progress)
    print("\n".join(format_report(report)))
    print(summary_line(report))
    return 0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 to below 1, got {text!r}")
    return value


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
