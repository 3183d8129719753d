"""`dlngraph eval SPEC --split dev|test`: accuracy of a spec's prompts, with baselines."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from dlngraph.cli import (
    CommandError,
    add_server_arguments,
    at_least_one,
    check_server_arguments,
)
from dlngraph.cli.progress import requests_sent
from dlngraph.runs import EvalReport, evaluate_splits

NAME = "eval"
HELP = "evaluate a spec's prompts on a split, beside 0-shot and k-shot baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC",
                        help="YAML spec file, or a run directory (its final.yaml: the trained prompts)")
    parser.add_argument("--split", choices=["train", "dev", "test"], default="dev", help="which split (default dev)")
    parser.add_argument("--baselines", action="store_true", help="also run the 0-shot and k-shot baselines")
    parser.add_argument("--shots", type=int, default=5, help="examples in the k-shot baseline (default 5)")
    parser.add_argument("--limit", type=at_least_one, help="evaluate only the first N examples")
    add_server_arguments(parser)
    parser.add_argument("--cache", type=Path, help="LLM cache file (default: the run's cache next to the spec)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    check_server_arguments(args)
    try:
        (report,) = asyncio.run(evaluate_splits(
            spec_file(args.spec), splits=(args.split,), baselines=args.baselines, shots=args.shots,
            base_url=args.base_url, api_key_env=args.api_key_env, cache_path=args.cache, limit=args.limit,
        ))
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    if args.json:
        import msgspec

        print(msgspec.json.encode(report).decode())
    else:
        print_report(report)
    print_failures(report)
    return 1 if any(row.count and row.failed == row.count for row in report.rows) else 0


def spec_file(path: Path) -> Path:
    """`path` itself, or a run directory's final.yaml."""
    if not path.is_dir():
        return path
    final = path / "final.yaml"
    if not final.exists():
        raise CommandError(f"{path} is a directory without a final.yaml (a run writes it when it completes);"
                           " give a spec file, e.g. its spec.yaml for the initial prompts")
    return final


def print_report(report: EvalReport) -> None:
    print(f"{report.spec} on {report.split}")
    print(f"{'system':<10} {'accuracy':>9} {'examples':>9} {'failed':>7}")
    for row in report.rows:
        print(f"{row.system:<10} {row.accuracy:>9.3f} {row.count:>9} {row.failed:>7}")
    cached = f", {report.cache_hits} answered by the cache" if report.cache_hits else ""
    print(f"cost: {report.calls} calls ({requests_sent(report.requests, report.retries)}),"
          f" {report.prompt_tokens + report.completion_tokens} tokens{cached}")


def print_failures(report: EvalReport) -> None:
    """On stderr, per system with failed examples, how many and the first failure."""
    for row in report.rows:
        if row.first_failure is not None:
            every = "every example" if row.failed == row.count else f"{row.failed} of {row.count} examples"
            print(f"{row.system}: {every} failed (counted as wrong); the first failure: {row.first_failure}",
                  file=sys.stderr)
