"""`dlngraph show SPEC`: a network's nodes, edges, layers and critical path, as text, DOT or Mermaid."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlngraph.graph import compile_network
from dlngraph.graph.render import to_dot, to_mermaid, to_text
from dlngraph.spec import load_spec

NAME = "show"
HELP = "print a network's graph (text, Graphviz DOT or Mermaid)"

RENDERERS = {"text": to_text, "dot": to_dot, "mermaid": to_mermaid}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC", help="a YAML spec file")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    loaded = load_spec(args.spec)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    network = compile_network(loaded.spec)
    sys.stdout.write(RENDERERS[args.format](network))
    return 0
