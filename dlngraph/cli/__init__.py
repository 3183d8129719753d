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


class CommandError(Exception):
    """A failure explained to the user in one message, ending the command with `exit_code`."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
