"""Scoring throughput of the embedded local model, with and without prefix grouping.

    python benchmarks/bench_local.py [--quick] [--json] [--threads N]

Loads Gemma 3 270M (the `local` extra), scores 4 candidate prompts x 8 examples (3 with
--quick) submitted interleaved, once in arrival order and once with prefix grouping, and
prints calls/s for both and their ratio. See `dlngraph.bench.local_probe`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlngraph.bench.local_probe import format_table, measure_local_scoring
from dlngraph.spec.models import ModelSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer examples, one round")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads (default: all cores)"
    )
    args = parser.parse_args(argv)
    spec = ModelSpec(backend="local", n_threads=args.threads)
    figures = asyncio.run(measure_local_scoring(quick=args.quick, model_spec=spec))
    print(json.dumps(figures, indent=2) if args.json else format_table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
