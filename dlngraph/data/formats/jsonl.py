"""JSON Lines files: one JSON object per line, input and target in configurable fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from dlngraph.data.errors import IssueLog
from dlngraph.data.formats.json_document import TOO_DEEP
from dlngraph.data.formats.records import (
    DEFAULT_FIELDS,
    JSON_MAPPING,
    FieldMap,
    Record,
    to_examples,
)
from dlngraph.data.formats.text_files import read_text
from dlngraph.data.types import Example
from dlngraph.spec.convert import describe


def read_jsonl(path: Path, *, role: str, fields: FieldMap = DEFAULT_FIELDS) -> list[Example]:
    """Every row of the file, in file order; ids are `{role}:{line}`. Blank lines are skipped."""
    log = IssueLog(path)
    examples = to_examples(_records(read_text(path), role, log), fields, log)
    log.raise_if_any()
    return examples


def _records(text: str, role: str, log: IssueLog) -> Iterator[Record]:
    # split on "\n" only: str.splitlines would also split inside a row at U+2028 and friends
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            log.add(number, "", f"invalid JSON: {error.msg} (column {error.colno})")
            continue
        except RecursionError:
            log.add(number, "", TOO_DEEP)
            continue
        if not isinstance(value, dict):
            log.add(number, "", f"expected a JSON object, found {describe(value, mapping=JSON_MAPPING)}")
            continue
        yield Record(values=value, line=number, prefix="", id=f"{role}:{number}")
