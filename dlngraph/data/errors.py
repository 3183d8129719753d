"""What goes wrong with data, said so that the user can fix the file without reading our code.

Every issue names the file, the line (1-based; 0 when the problem is not on one line), where
in the row (a field, a column, `examples[3].target`) and what was expected. A loader collects
the issues of a whole file before raising, so one run shows every bad row, not just the first.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

MAX_SHOWN_ISSUES = 20
"""An error lists at most this many issues, then says how many more there were."""


class DataIssue(msgspec.Struct, frozen=True, kw_only=True):
    file: str
    """The data file; "" when the problem is in the spec's `data` section itself."""
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        return ": ".join(part for part in (place, self.where, self.message) if part)


class DataError(ValueError):
    """Data that cannot be used. `issues` holds the first problems found, `total` counts all."""

    def __init__(self, issues: list[DataIssue], *, total: int | None = None) -> None:
        self.issues = issues
        self.total = len(issues) if total is None else total
        lines = [str(issue) for issue in issues]
        hidden = self.total - len(issues)
        if hidden > 0:
            lines.append(f"... and {hidden} more problems not shown")
        super().__init__("\n".join(lines))

    @classmethod
    def about(cls, file: Path | str, message: str, *, line: int = 0, where: str = "") -> DataError:
        """An error with one issue, for problems that stop reading at once."""
        return cls([DataIssue(file=str(file), line=line, where=where, message=message)])


class IssueLog:
    """Gathers the issues of one file, keeping the first `cap` and counting the rest."""

    def __init__(self, file: Path | str, *, cap: int = MAX_SHOWN_ISSUES) -> None:
        self.file = str(file)
        self.cap = cap
        self.issues: list[DataIssue] = []
        self.total = 0

    def add(self, line: int, where: str, message: str) -> None:
        self.total += 1
        if len(self.issues) < self.cap:
            self.issues.append(DataIssue(file=self.file, line=line, where=where, message=message))

    def raise_if_any(self) -> None:
        if self.total:
            raise DataError(self.issues, total=self.total)
