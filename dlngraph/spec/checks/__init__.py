"""Semantic checks of a converted spec: everything the schema's types cannot say.

Each module checks one concern and returns `Finding`s (document path, message, severity).
The structural checks (cycles, reachability) run only once ids and references are sound, so
that one typo is not reported three times.
"""

from __future__ import annotations

from dlngraph.spec.checks.classes import check_classes
from dlngraph.spec.checks.identity import check_identity
from dlngraph.spec.checks.metrics import check_metrics
from dlngraph.spec.checks.model_options import check_model_options
from dlngraph.spec.checks.ranges import check_ranges
from dlngraph.spec.checks.references import check_references
from dlngraph.spec.checks.structure import check_structure
from dlngraph.spec.checks.template_use import check_template_use
from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec


def check_spec(spec: NetworkSpec) -> list[Finding]:
    """Every problem of `spec`, errors and warnings alike."""
    findings = check_identity(spec) + check_references(spec)
    if not any(finding.severity == "error" for finding in findings):
        findings += check_structure(spec)
    findings += check_template_use(spec)
    findings += check_classes(spec)
    findings += check_ranges(spec)
    findings += check_model_options(spec)
    findings += check_metrics(spec)
    return findings
