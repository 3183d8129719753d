"""`dlngraph validate SPEC...`: check spec files, printing `ok FILE` or every problem found."""

from __future__ import annotations

import argparse
from pathlib import Path

from dlngraph.data.errors import DataError
from dlngraph.data.tasks import get_task
from dlngraph.graph import compile_network
from dlngraph.spec import SpecError, load_spec
from dlngraph.spec.data import GeneratedData
from dlngraph.spec.network import NetworkSpec

NAME = "validate"
HELP = "check network specs and report every problem with its file, line and column"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", type=Path, metavar="SPEC", help="YAML spec files")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every file is valid, 1 otherwise (every file is checked either way)."""
    results = [_check(path, strict=args.strict) for path in args.specs]
    return 0 if all(results) else 1


def _check(path: Path, *, strict: bool) -> bool:
    try:
        loaded = load_spec(path)
        compile_network(loaded.spec)
    except SpecError as error:
        for issue in error.issues:
            print(issue)
        return False
    for warning in loaded.warnings:
        print(warning)
    data_issues = _data_issues(loaded.spec)
    for issue in data_issues:
        print(f"{path}: {issue}")
    if data_issues:
        return False
    if strict and loaded.warnings:
        print(f"failed {path} (warnings count as errors with --strict)")
        return False
    print(f"ok {path}")
    return True


def _data_issues(spec: NetworkSpec) -> list[str]:
    """What the data layer refuses in a generated task's name and parameters (the spec's own
    checks cannot know the tasks: the data layer sits above the spec)."""
    if not isinstance(spec.data, GeneratedData):
        return []
    try:
        get_task(spec.data.task, spec.data.params)
    except DataError as error:
        return [str(issue) for issue in error.issues]
    return []
