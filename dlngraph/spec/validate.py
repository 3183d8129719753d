"""Checking a spec built in code, which never went through the loader.

Struct constructors do not check types, so the spec is first turned back into builtins and
converted again: a wrong type is then reported exactly as it would be in a file. Issues
carry no line (0), only the document path.
"""

from __future__ import annotations

import msgspec

from dlngraph.spec.checks import check_spec
from dlngraph.spec.convert import INVALID, convert
from dlngraph.spec.errors import Finding, SpecError, SpecIssue
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.paths import format_path


def validate_spec(spec: NetworkSpec, *, file: str = "<spec>") -> list[SpecIssue]:
    """Every issue of `spec` (errors and warnings); an empty list for a sound spec."""
    findings: list[Finding] = []
    try:
        plain = msgspec.to_builtins(spec)
    except (TypeError, ValueError) as error:
        return [
            SpecIssue(file=file, path="", line=0, column=0, message=f"the spec holds a value YAML cannot hold: {error}")
        ]
    checked = convert(plain, NetworkSpec, (), findings)
    if checked is not INVALID:
        findings = check_spec(checked)
    return [_unplaced(finding, file) for finding in findings]


def ensure_valid(spec: NetworkSpec, *, file: str = "<spec>") -> list[SpecIssue]:
    """Raise `SpecError` if `spec` has errors; return its warnings otherwise."""
    issues = validate_spec(spec, file=file)
    if any(issue.severity == "error" for issue in issues):
        raise SpecError(issues)
    return issues


def _unplaced(finding: Finding, file: str) -> SpecIssue:
    return SpecIssue(
        file=file, path=format_path(finding.path), line=0, column=0, message=finding.message, severity=finding.severity
    )
