"""Reading a data file as text, with errors that name the file."""

from __future__ import annotations

from pathlib import Path

from dlngraph.data.errors import DataError


def read_text(path: Path) -> str:
    """The file's text, decoded as UTF-8 (a leading byte-order mark is dropped)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError.about(path, "file not found") from None
    except IsADirectoryError:
        raise DataError.about(path, "expected a file, found a directory") from None
    except OSError as error:
        raise DataError.about(path, f"cannot read the file: {error.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError.about(path, f"not UTF-8 text (invalid byte at offset {error.start})", line=line) from None
