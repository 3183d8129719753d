"""Command-line overrides of training fields: `--set iterations=3 --set batch_size=10`."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import yaml

from dlngraph.spec.convert import INVALID, convert
from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.paths import format_path
from dlngraph.spec.training import TrainingSpec
from dlngraph.spec.validate import validate_spec


class OverrideError(ValueError):
    """An override names an unknown field or gives a value of the wrong type."""


def apply_overrides(spec: NetworkSpec, assignments: Sequence[str]) -> NetworkSpec:
    """The spec with each `field=value` applied to its `training` section; values are YAML
    (`true`, `0.7`, `[a, b]`)."""
    if not assignments:
        return spec
    fields = msgspec.to_builtins(spec.training)
    for assignment in assignments:
        name, value = _parse(assignment)
        fields[name] = value
    findings: list[Finding] = []
    training = convert(fields, TrainingSpec, ("training",), findings)
    if training is INVALID:  # in the spec's words: "training.batch_size: expected an integer, found ..."
        raise OverrideError("; ".join(f"--set: {format_path(finding.path)}: {finding.message}" for finding in findings))
    changed = msgspec.structs.replace(spec, training=training)
    errors = [issue for issue in validate_spec(changed) if issue.severity == "error"]
    if errors:  # the spec's own checks: ranges (batch_size >= 1), references (backward_model)
        raise OverrideError("; ".join(f"--set: {issue.path}: {issue.message}" for issue in errors))
    return changed


def _parse(assignment: str) -> tuple[str, object]:
    name, equals, text = assignment.partition("=")
    name = name.strip().removeprefix("training.")
    if not equals or not name:
        raise OverrideError(f"--set expects FIELD=VALUE, got {assignment!r}")
    known = set(TrainingSpec.__struct_fields__)
    if name not in known:
        raise OverrideError(f"--set: training has no field {name!r}; known fields: {', '.join(sorted(known))}")
    try:
        return name, yaml.safe_load(text)
    except yaml.YAMLError:
        return name, text
