"""From a raw row to an `Example`: the checks every file format shares.

A reader turns its file into `Record`s (a mapping plus where it came from); `to_examples`
then checks the fields, applies the label map and reports every bad row through an
`IssueLog`, so all formats accept and reject exactly the same things.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from dlngraph.data.errors import IssueLog
from dlngraph.data.types import Example
from dlngraph.spec.convert import describe

JSON_MAPPING = "an object"
"""What JSON calls a mapping, in the "found ..." of a message (`spec.convert.describe`)."""


class FieldMap(msgspec.Struct, frozen=True, kw_only=True):
    """Which fields of a row hold the input and the target, and how targets become labels.

    `label_map` turns raw targets into label words ("0" -> "subjective"); `labels`, when
    given, is the closed set of allowed targets (after mapping).
    """

    input_field: str = "input"
    target_field: str = "target"
    label_map: dict[str, str] | None = None
    labels: list[str] | None = None


DEFAULT_FIELDS = FieldMap()
"""Input in `input`, target in `target`, taken as they are."""


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One row as read from a file, not yet checked."""

    values: dict[str, Any]
    line: int
    """1-based line where the row starts; 0 when unknown."""
    prefix: str
    """Where the row sits in its file, as `examples[3]`; "" for line-based formats."""
    id: str

    def where(self, field: str) -> str:
        return f"{self.prefix}.{field}" if self.prefix else field


def to_examples(records: Iterable[Record], fields: FieldMap, log: IssueLog) -> list[Example]:
    """The examples of all good records; each bad record adds its problems to `log`."""
    examples = []
    for record in records:
        example = to_example(record, fields, log)
        if example is not None:
            examples.append(example)
    return examples


def to_example(record: Record, fields: FieldMap, log: IssueLog) -> Example | None:
    """The record as an example, or None after adding its problems to `log`."""
    text = _input_text(record, fields.input_field, log)
    target = _target_text(record, fields, log)
    if text is None or target is None:
        return None
    return Example(input=text, target=target, id=record.id)


def _input_text(record: Record, field: str, log: IssueLog) -> str | None:
    if field not in record.values:
        log.add(record.line, record.where(field), f"missing field '{field}' (the input)")
        return None
    value = record.values[field]
    if not isinstance(value, str):
        log.add(record.line, record.where(field), f"expected the input as a string, found {describe(value, mapping=JSON_MAPPING)}")
        return None
    if not value.strip():
        log.add(record.line, record.where(field), "the input is empty")
        return None
    return value


def _target_text(record: Record, fields: FieldMap, log: IssueLog) -> str | None:
    field = fields.target_field
    if field not in record.values:
        log.add(record.line, record.where(field), f"missing field '{field}' (the target)")
        return None
    value = record.values[field]
    if isinstance(value, bool) or not isinstance(value, str | int):
        log.add(record.line, record.where(field), f"expected the target as a string or an integer, found {describe(value, mapping=JSON_MAPPING)}")
        return None
    target = str(value)
    if not target.strip():
        log.add(record.line, record.where(field), "the target is empty")
        return None
    return _mapped_label(target, record, fields, log)


def _mapped_label(target: str, record: Record, fields: FieldMap, log: IssueLog) -> str | None:
    where = record.where(fields.target_field)
    if fields.label_map is not None:
        if target not in fields.label_map:
            known = ", ".join(repr(key) for key in fields.label_map)
            log.add(record.line, where, f"label {target!r} is not in the label map (expected one of {known})")
            return None
        target = fields.label_map[target]
    if fields.labels is not None and target not in fields.labels:
        known = ", ".join(repr(label) for label in fields.labels)
        log.add(record.line, where, f"target {target!r} is not one of the labels ({known})")
        return None
    return target
