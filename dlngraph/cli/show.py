"""`dlngraph show SPEC`: a network's nodes, edges, layers and critical path, as text, DOT or
Mermaid; or its picture, as PNG or SVG (`--out net.png`, or `--format png --out FILE`).

With `--out` and no `--format`, the file's suffix names the format (`SUFFIXES`)."""

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
SUFFIXES = {
    ".txt": "text", ".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid", ".png": "png", ".svg": "svg",
}
"""The format `--out FILE` asks for when `--format` is not given (suffixes compared in lower case)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC", help="a YAML spec file")
    parser.add_argument("--format", choices=sorted([*RENDERERS, *PICTURES]),
                        help="output format (default: after --out's suffix, else text); png and svg need --out")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help=f"write to FILE instead of the terminal ({', '.join(SUFFIXES)} name their format)")


def run(args: argparse.Namespace) -> int:
    fmt = _format(args.format, args.out)
    loaded = load_spec(args.spec)
    for warning in loaded.warnings:
        print(warning, file=sys.stderr)
    network = compile_network(loaded.spec)
    if fmt in PICTURES:
        _draw(network, fmt, args.out)
    elif args.out is not None:
        args.out.write_text(RENDERERS[fmt](network), encoding="utf-8")
    else:
        sys.stdout.write(RENDERERS[fmt](network))
    return 0


def _format(given: str | None, out: Path | None) -> str:
    """The format asked for: `--format`, else `--out`'s suffix, else text. A usage error (argparse's
    exit code 2) when a picture has no file, or a file's suffix names no format."""
    if given in PICTURES and out is None:
        raise CommandError(f"--format {given} writes a picture: give the file with --out FILE", exit_code=2)
    if given is not None:
        return given
    if out is None:
        return "text"
    if out.suffix.lower() not in SUFFIXES:
        raise CommandError(
            f"--out {out}: the file's suffix names no format (known: {', '.join(SUFFIXES)}); give --format",
            exit_code=2,
        )
    return SUFFIXES[out.suffix.lower()]


def _draw(network: CompiledNetwork, fmt: str, out: Path) -> None:
    # Imported here: matplotlib loads only when a picture is asked for.
    from dlngraph.cli.report import load_report_module

    load_report_module("graph_picture").write_network_picture(network, out, fmt=fmt)
    print(f"wrote {out}", file=sys.stderr)
