"""What goes wrong in a spec, said so that the author can fix it without reading our code.

Every issue names the file, the document path (`nodes[2].inputs[0]`), the line and column
(1-based; 0 when unknown, as for a spec built in code) and what was expected.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Severity = Literal["error", "warning"]


class SpecIssue(msgspec.Struct, frozen=True, kw_only=True):
    file: str
    path: str
    line: int
    column: int
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.file if self.line == 0 else f"{self.file}:{self.line}:{self.column}"
        prefix = "warning: " if self.severity == "warning" else ""
        subject = f"{self.path}: " if self.path else ""
        return f"{where}: {prefix}{subject}{self.message}"


class SpecError(ValueError):
    """A spec that cannot be used; `issues` holds every problem found (warnings included)."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = sorted(issues, key=lambda issue: (issue.file, issue.line, issue.column))
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def errors(self) -> list[SpecIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]


class Finding(msgspec.Struct, frozen=True):
    """An issue before it is placed in a file: the checks know document paths, not lines."""

    path: tuple[str | int, ...]
    message: str
    severity: Severity = "error"
    key: bool = False
    """Point at the mapping key rather than its value (unknown or duplicate fields)."""
    text_line: int = 0
    """A line inside a multi-line string value (a template's syntax error), 1-based."""
