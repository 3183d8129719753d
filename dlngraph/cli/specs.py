"""`dlngraph specs [--copy DIR]`: the specs shipped with dlngraph, where an installed package keeps
them, and a copy of them for the README's commands (`dlngraph specs --copy .` writes `./specs/`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dlngraph.cli import CommandError
from dlngraph.spec.shipped import SHIPPED_SPECS, copy_shipped_specs, shipped_spec_files
from dlngraph.words import plural

NAME = "specs"
HELP = "list the specs shipped with dlngraph, or copy them into a folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--copy", type=Path, metavar="DIR",
                        help="write the shipped specs into DIR/specs/, laid out as the README names them")


def run(args: argparse.Namespace) -> int:
    if args.copy is None:
        print(f"shipped specs: {SHIPPED_SPECS}")
        for file in shipped_spec_files():
            print(f"  specs/{file.as_posix()}")
        return 0
    try:
        copied = copy_shipped_specs(args.copy / "specs")
    except FileExistsError as error:
        raise CommandError(str(error)) from None
    print(f"{plural(len(copied), 'spec file')} written to {args.copy / 'specs'}")
    return 0
