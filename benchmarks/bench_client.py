"""Throughput and memory of the LLM client stack against the scripted server.

    python benchmarks/bench_client.py            # 10k requests per level, 100k for memory
    python benchmarks/bench_client.py --quick    # a smoke run in a few seconds
    python benchmarks/bench_client.py --json     # the raw figures

The measuring code lives in `dlngraph.bench.client_probe` (also used by `dlngraph bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dlngraph.bench.client_probe import format_table, measure_client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = asyncio.run(measure_client(quick=args.quick))
    print(json.dumps(results, indent=2) if args.json else format_table(results))


if __name__ == "__main__":
    main()
