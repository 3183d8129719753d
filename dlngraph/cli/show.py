"""`dlngraph show SPEC`: a network's nodes, edges, layers and critical path, as text, DOT or
Mermaid; or its picture, as PNG or SVG (`--format png --out net.png`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlngraph.cli import CommandError
from dlngraph.graph import CompiledNetwork, compile_network
from dlngraph.graph.render import to_dot, to_mermaid, to_text
from dlngraph.spec import load_spec

NAME = "show"
HELP = "print a network's graph (text, Graphviz DOT or Mermaid) or draw it (PNG, SVG)"

RENDERERS = {"text": to_text, "dot": to_dot, "mermaid": to_mermaid}
PICTURES = ("png", "svg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC", help="a YAML spec file")
    parser.add_argument("--format", choices=sorted([*RENDERERS, *PICTURES]), default="text",
                        help="output format (default: text); png and svg need --out")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write to FILE instead of the terminal")


def run(args: argparse.Namespace) -> int:
    if args.format in PICTURES and args.out is None:
        # A usage error, so argparse's exit code 2.
        raise CommandError(f"--format {args.format} writes a picture: give the file with --out FILE", exit_code=2)
    loaded = load_spec(args.spec)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    network = compile_network(loaded.spec)
    if args.format in PICTURES:
        _draw(network, args.format, args.out)
    elif args.out is not None:
        args.out.write_text(RENDERERS[args.format](network), encoding="utf-8")
    else:
        sys.stdout.write(RENDERERS[args.format](network))
    return 0


def _draw(network: CompiledNetwork, fmt: str, out: Path) -> None:
    # Imported here: matplotlib loads only when a picture is asked for.
    from dlngraph.cli.report import load_report_module

    load_report_module("graph_picture").write_network_picture(network, out, fmt=fmt)
    print(f"wrote {out}", file=sys.stderr)
