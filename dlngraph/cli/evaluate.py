"""`dlngraph eval SPEC --split dev|test`: accuracy of a spec's prompts, with baselines."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from dlngraph.cli import CommandError
from dlngraph.runs import EvalReport, evaluate_spec

NAME = "eval"
HELP = "evaluate a spec's prompts on a split, beside 0-shot and k-shot baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC", help="YAML spec file (e.g. a run's final.yaml)")
    parser.add_argument("--split", choices=["train", "dev", "test"], default="dev")
    parser.add_argument("--baselines", action="store_true", help="also run the 0-shot and k-shot baselines")
    parser.add_argument("--shots", type=int, default=5, help="examples in the k-shot baseline (default 5)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N examples")
    parser.add_argument("--base-url", help="send every model's requests to this OpenAI-compatible server")
    parser.add_argument("--cache", type=Path, help="LLM cache file (default: the run's cache next to the spec)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        report = asyncio.run(evaluate_spec(
            args.spec, split=args.split, baselines=args.baselines, shots=args.shots,
            base_url=args.base_url, cache_path=args.cache, limit=args.limit,
        ))
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    if args.json:
        import msgspec

        print(msgspec.json.encode(report).decode())
    else:
        print_report(report)
    return 0


def print_report(report: EvalReport) -> None:
    print(f"{report.spec} on {report.split}")
    print(f"{'system':<10} {'accuracy':>9} {'examples':>9} {'failed':>7}")
    for row in report.rows:
        print(f"{row.system:<10} {row.accuracy:>9.3f} {row.count:>9} {row.failed:>7}")
    print(f"cost: {report.calls} calls, {report.prompt_tokens + report.completion_tokens} tokens")
