"""Document paths: where in a spec a value lives, as `nodes[2].inputs[0]`.

A path is a tuple of mapping keys (str) and list indexes (int). Every error names one, and
the YAML source map turns it into a line and column.
"""

from __future__ import annotations

import re

DocPath = tuple[str | int, ...]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
"""A name written bare in a document path (`nodes.reason`); node ids must be such names."""
_MSGSPEC_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(.*?)\]")


def format_path(path: DocPath) -> str:
    """`("nodes", 2, "inputs", 0)` -> `nodes[2].inputs[0]`; odd keys are quoted."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif IDENTIFIER.match(step):
            text += f".{step}" if text else step
        else:
            text += f"[{step!r}]"
    return text


def split_msgspec_path(message: str) -> tuple[str, DocPath]:
    """Split msgspec's "Expected `int`, got `str` - at `$.a[0]`" into its text and path."""
    text, marker, where = message.partition(" - at `$")
    if not marker:
        return message, ()
    steps: list[str | int] = []
    for key, index, quoted in _MSGSPEC_STEP.findall(where.rstrip("`")):
        if key:
            steps.append(key)
        elif index:
            steps.append(int(index))
        else:
            steps.append(quoted.strip("'\""))
    return text, tuple(steps)
