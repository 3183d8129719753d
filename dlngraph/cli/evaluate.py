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
from dlngraph.runs.evaluate import KSHOT_DRAWS, EvalRow

NAME = "eval"
HELP = "evaluate a spec's prompts on a split, beside 0-shot and k-shot baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC",
                        help="YAML spec file, or a run directory (its final.yaml: the trained prompts)")
    parser.add_argument("--split", choices=["train", "dev", "test"], default="dev", help="which split (default dev)")
    parser.add_argument("--baselines", action="store_true", help="also run the 0-shot and k-shot baselines")
    add_baseline_arguments(parser)
    parser.add_argument("--limit", type=at_least_one, help="evaluate only the first N examples")
    add_server_arguments(parser)
    parser.add_argument("--cache", type=Path, help="LLM cache file (default: the run's cache next to the spec)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def add_baseline_arguments(parser: argparse.ArgumentParser, shots: int | None = 5, default_says: str = "5") -> None:
    """`--shots K` and `--kshot-draws N`: the k-shot baseline (`eval --baselines`, `demo`)."""
    parser.add_argument("--shots", type=int, default=shots, help=f"examples in the k-shot baseline (default {default_says})")
    parser.add_argument("--kshot-draws", type=at_least_one, default=KSHOT_DRAWS, metavar="N",
                        help=f"random draws of k training examples the k-shot baseline averages over (default {KSHOT_DRAWS})")


def run(args: argparse.Namespace) -> int:
    check_server_arguments(args)
    try:
        (report,) = asyncio.run(evaluate_splits(
            spec_file(args.spec), splits=(args.split,), baselines=args.baselines, shots=args.shots,
            draws=args.kshot_draws, base_url=args.base_url, api_key_env=args.api_key_env, cache_path=args.cache,
            limit=args.limit,
        ))
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    if args.json:
        import msgspec

        print(msgspec.json.encode(report).decode())
    else:
        print_report(report)
    print_failures(report)
    return 1 if any(row.all_failed for row in report.rows) else 0


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
    print(f"{'system':<10} {'accuracy':>9} {'examples':>9} {'failed':>7}  spread")
    for row in report.rows:
        print(f"{row.system:<10} {row.accuracy:>9.3f} {row.count:>9} {row.failed:>7}  {draws_spread(row)}")
    cached = f", {report.cache_hits} answered by the cache" if report.cache_hits else ""
    print(f"cost: {report.calls} calls ({requests_sent(report.requests, report.retries)}),"
          f" {report.prompt_tokens + report.completion_tokens} tokens{cached}")


def draws_spread(row: EvalRow) -> str:
    """`mean of 5 draws: 0.720-0.930, std 0.071` for the k-shot baseline, else empty."""
    if not row.draws:
        return ""
    spread = row.spread
    return f"mean of {len(row.draws)} draws" + ("" if spread is None else f": {spread.describe()}")


def print_failures(report: EvalReport) -> None:
    """On stderr, per system with failed examples, how many and the first failure."""
    for row in report.rows:
        if row.first_failure is not None:
            scored = row.count * max(1, len(row.draws))
            every = "every example" if row.all_failed else f"{row.failed} of {scored} examples"
            print(f"{row.system}: {every} failed (counted as wrong); the first failure: {row.first_failure}",
                  file=sys.stderr)
