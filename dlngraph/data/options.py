"""A multiple-choice question as BIG-Bench-Hard writes it: the question, a line `Options:`,
then one line per option, `(A) text` ("letters") or `- text` ("words", as in its Yes/No tasks).

Generated tasks, the paper's presets and BIG-bench files all write the block here, so their
inputs match BBH's byte for byte; the presets read it back here to reorder the options.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import Literal

ChoiceStyle = Literal["letters", "words"]
LETTERS = string.ascii_uppercase
"""The option letters, in order: a question has at most this many options."""

_HEADER = "\nOptions:\n"
_LETTERED = re.compile(r"\([A-Z]\) (.*)")


def with_options(question: str, options: Sequence[str], style: ChoiceStyle) -> str:
    """`question` followed by its options block."""
    if style == "letters":
        lines = [f"({letter}) {option}" for letter, option in zip(LETTERS, options, strict=False)]
    else:
        lines = [f"- {option}" for option in options]
    return question + _HEADER + "\n".join(lines)


def without_options(text: str) -> str:
    """`text` without its options block, as the paper's `strip_options` cuts it: everything
    from the first "Options:" on, the rest stripped of surrounding blanks."""
    index = text.find("Options:")
    return text if index < 0 else text[:index].strip()


def letter_target(index: int) -> str:
    """The target naming the option at `index` in the "letters" style: `(A)`, `(B)`, ..."""
    return f"({LETTERS[index]})"


def split_lettered(text: str) -> tuple[str, list[str]] | None:
    """The question and its option texts, if `text` ends with a lettered options block."""
    question, header, listing = text.partition(_HEADER)
    matches = [_LETTERED.fullmatch(line) for line in listing.strip().split("\n")]
    if not header or not all(matches):
        return None
    return question, [match.group(1) for match in matches if match]
