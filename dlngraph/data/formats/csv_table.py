"""CSV files (TSV when the name ends in .tsv): a header row, then one example per row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlngraph.data.errors import DataError, IssueLog
from dlngraph.data.formats.records import DEFAULT_FIELDS, FieldMap, Record, to_examples
from dlngraph.data.formats.text_files import read_text
from dlngraph.data.types import Example
from dlngraph.words import plural


def read_csv(path: Path, *, role: str, fields: FieldMap = DEFAULT_FIELDS) -> list[Example]:
    """Every row of the file, in file order; ids are `{role}:{line where the row starts}`.

    Blank lines are skipped; a quoted value may span lines. Quoting is strict: a closing quote
    not followed by a delimiter, or a file ending inside quotes, is an error of its row rather
    than a value silently glued together.
    """
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter, strict=True)
    log = IssueLog(path)
    header = _header(path, reader, fields)
    examples = to_examples(_records(reader, header, role, log), fields, log)
    log.raise_if_any()
    return examples


def _header(path: Path, reader: Any, fields: FieldMap) -> list[str]:
    try:
        header = next((row for row in reader if row), None)
    except csv.Error as error:
        raise DataError.about(path, f"malformed CSV header: {error}", line=reader.line_num) from None
    if header is None:
        raise DataError.about(path, "the file is empty; expected a header row naming the columns", line=1)
    for role, column in (("input", fields.input_field), ("target", fields.target_field)):
        if column not in header:
            columns = ", ".join(repr(name) for name in header)
            raise DataError.about(path, f"no column '{column}' for the {role} (the header has {columns})", line=reader.line_num)
    return header


def _records(reader: Any, header: list[str], role: str, log: IssueLog) -> Iterator[Record]:
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            log.add(start, "", f"malformed CSV: {error}")
            return  # the reader cannot tell where the next row starts
        if not row:
            pass  # a blank line
        elif len(row) != len(header):
            log.add(start, "", f"the row has {plural(len(row), 'value')} but the header has {plural(len(header), 'column')}")
        else:
            yield Record(values=dict(zip(header, row, strict=True)), line=start, prefix="", id=f"{role}:{start}")
        start = reader.line_num + 1


