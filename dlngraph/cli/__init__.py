"""The `dlngraph` command line: one module per subcommand.

Adding a subcommand takes two steps:
1. write `dlngraph/cli/<name>.py` with the four members of `Command` below
   (see `validate.py` for a small complete example);
2. add the module to `COMMANDS` in `dlngraph/cli/main.py`.

A command reports a problem the user can fix by raising `CommandError` (or `SpecError`):
`main` prints it without a traceback and exits with its code.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Protocol


class Command(Protocol):
    """What `main` needs from a subcommand module."""

    NAME: str
    """The subcommand's word: `dlngraph NAME ...`."""
    HELP: str
    """One line for `dlngraph --help`."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the subcommand's arguments on its own parser."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit code (0 on success)."""


def at_least_one(text: str) -> int:
    """An argparse type: a whole number >= 1 (argparse reports a bad one as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """`--base-url` and `--api-key-env`: every model of the spec sent to one OpenAI-compatible
    server (instead of the spec's backends), and where that server's key is."""
    parser.add_argument("--base-url", help="send every model's requests to this OpenAI-compatible server")
    parser.add_argument("--api-key-env", metavar="NAME",
                        help="with --base-url: the environment variable holding that server's API key")


def check_server_arguments(args: argparse.Namespace) -> None:
    """`--api-key-env` goes with `--base-url` and names a variable that is set. The value is
    never repeated in a message: a user may have passed the key itself."""
    name = args.api_key_env
    if name is None:
        return
    if args.base_url is None:
        raise CommandError("--api-key-env names the key of the --base-url server: give --base-url too", exit_code=2)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise CommandError("--api-key-env takes the NAME of an environment variable (letters, digits and _),"
                           " not the key itself", exit_code=2)
    if not os.environ.get(name):
        raise CommandError(f"--api-key-env {name}: the environment variable is not set", exit_code=2)


class CommandError(Exception):
    """A failure explained to the user in one message, ending the command with `exit_code`."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
