"""The shape BBH and BIG-bench share: one JSON object whose `examples` array holds the rows.

Rows are checked by a converter the format supplies. Line numbers are looked up only when a
row is bad (a JSON file is often a single line, so the error also names `examples[i]`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlngraph.data.errors import DataError, IssueLog
from dlngraph.data.formats.json_positions import element_lines
from dlngraph.data.formats.records import JSON_MAPPING, Record
from dlngraph.data.formats.text_files import read_text
from dlngraph.data.types import Example
from dlngraph.spec.convert import describe

TOO_DEEP = "nested too deeply (Python's JSON parser stops at about 1,000 levels of arrays and objects)"
"""Said of a JSON value so deep that parsing it would exhaust the interpreter's stack."""

RowConverter = Callable[[Record, IssueLog], Example | None]
"""Turns one row into an example, or returns None after logging what is wrong with it."""


def read_json_document(path: Path) -> tuple[str, dict[str, Any]]:
    """The file's text and its top-level object, which must hold an `examples` list."""
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError.about(path, f"invalid JSON: {error.msg} (column {error.colno})", line=error.lineno) from None
    except RecursionError:
        raise DataError.about(path, TOO_DEEP, line=1) from None
    if not isinstance(document, dict):
        raise DataError.about(path, f"expected a JSON object with an 'examples' list, found {describe(document, mapping=JSON_MAPPING)}", line=1)
    if not isinstance(document.get("examples"), list):
        found = describe(document["examples"], mapping=JSON_MAPPING) if "examples" in document else "no 'examples' field"
        raise DataError.about(path, f"expected an 'examples' list, found {found}", line=1, where="examples")
    return text, document


def convert_examples(path: Path, text: str, items: list[Any], *, role: str, convert: RowConverter) -> list[Example]:
    """Every item of the `examples` array as an example, or one error listing all bad items."""
    probe = IssueLog(path)
    examples = _convert_all(items, [0] * len(items), role, convert, probe)
    if probe.total == 0:
        return examples
    log = IssueLog(path)
    _convert_all(items, element_lines(text, "examples"), role, convert, log)
    log.raise_if_any()
    raise AssertionError("a row failed once but not when re-checked")  # converters are pure


def _convert_all(items: list[Any], lines: list[int], role: str, convert: RowConverter, log: IssueLog) -> list[Example]:
    examples = []
    for index, (item, line) in enumerate(zip(items, lines, strict=True)):
        prefix = f"examples[{index}]"
        if not isinstance(item, dict):
            log.add(line, prefix, f"expected an object, found {describe(item, mapping=JSON_MAPPING)}")
            continue
        example = convert(Record(values=item, line=line, prefix=prefix, id=f"{role}:{index}"), log)
        if example is not None:
            examples.append(example)
    return examples
