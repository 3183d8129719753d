"""The loss and answer extraction of `training`: a metric that imports, a regex that compiles."""

from __future__ import annotations

import re

from dlngraph.spec.errors import Finding
from dlngraph.spec.metrics import MetricError, import_metric, is_builtin
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.training import ExtractRegex


def check_metrics(spec: NetworkSpec) -> list[Finding]:
    findings = []
    training = spec.training
    if not is_builtin(training.loss):
        try:
            import_metric(training.loss)
        except MetricError as error:
            findings.append(Finding(("training", "loss"), str(error)))
    if isinstance(training.extract, ExtractRegex):
        try:
            re.compile(training.extract.regex)
        except re.error as error:
            findings.append(Finding(("training", "extract", "regex"), f"not a regular expression: {error}"))
    return findings
