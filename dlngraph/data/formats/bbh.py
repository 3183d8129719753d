"""BIG-Bench-Hard task files: `{"examples": [{"input": ..., "target": ...}, ...]}`."""

from __future__ import annotations

from pathlib import Path

from dlngraph.data.formats.json_document import convert_examples, read_json_document
from dlngraph.data.formats.records import DEFAULT_FIELDS, FieldMap, to_example
from dlngraph.data.types import Example


def read_bbh(path: Path, *, role: str, fields: FieldMap = DEFAULT_FIELDS) -> list[Example]:
    """Every example of the file, in file order; ids are `{role}:{index in examples}`."""
    text, document = read_json_document(path)
    return convert_examples(
        path, text, document["examples"], role=role, convert=lambda record, log: to_example(record, fields, log)
    )
