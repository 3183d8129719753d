"""On which line each element of a JSON file's `examples` array starts.

`json.loads` forgets positions, but an error about `examples[4180]` is only useful with the
line it sits on. Reading positions costs a second pass, so loaders ask only when a row is bad.
"""

from __future__ import annotations

import bisect
import json
import re

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def element_lines(text: str, key: str) -> list[int]:
    """1-based line of each element of the array `key` in the top-level object of `text`.

    `text` must be valid JSON (the loader has parsed it already). Returns [] when the
    top-level value is not an object or `key` does not hold an array. Like `json.loads`,
    the last of duplicate keys wins.
    """
    newlines = [index for index, char in enumerate(text) if char == "\n"]
    offsets: list[int] = []
    for name, start in _top_level_values(text):
        if name == key:
            offsets = _array_element_offsets(text, start)
    return [bisect.bisect_left(newlines, offset) + 1 for offset in offsets]


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _top_level_values(text: str) -> list[tuple[str, int]]:
    """(key, offset of its value) for each entry of the top-level object."""
    position = _skip_whitespace(text, 0)
    if not text.startswith("{", position):
        return []
    entries: list[tuple[str, int]] = []
    position = _skip_whitespace(text, position + 1)
    while text[position] != "}":
        name, position = _DECODER.raw_decode(text, position)
        position = _skip_whitespace(text, position)
        position = _skip_whitespace(text, position + 1)  # the ':'
        entries.append((name, position))
        _, position = _DECODER.raw_decode(text, position)
        position = _skip_whitespace(text, position)
        if text[position] == ",":
            position = _skip_whitespace(text, position + 1)
    return entries


def _array_element_offsets(text: str, position: int) -> list[int]:
    if not text.startswith("[", position):
        return []
    offsets: list[int] = []
    position = _skip_whitespace(text, position + 1)
    while text[position] != "]":
        offsets.append(position)
        _, position = _DECODER.raw_decode(text, position)
        position = _skip_whitespace(text, position)
        if text[position] == ",":
            position = _skip_whitespace(text, position + 1)
    return offsets
