"""Command-line overrides of a spec's fields: `--set iterations=3 --set data.sizes.train=40`.

A FIELD is a dotted path into the spec. A bare training field (`batch_size`) is short for
`training.batch_size`; the other roots are `data` (`data.sizes.train`, `data.params.steps`),
`models.NAME` (`models.fast.sampling.temperature`, `models.fast.model`), `nodes.ID`
(`nodes.answer.template`), `name` and `description`. Values are YAML (`true`, `0.7`, `[a, b]`).
The changed spec is converted and checked as a loaded one is, so a bad value reads like a spec
error, prefixed with `--set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import yaml

from dlngraph.spec.convert import INVALID, convert
from dlngraph.spec.errors import Finding
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.paths import format_path
from dlngraph.spec.training import TrainingSpec
from dlngraph.spec.validate import validate_spec

ROOTS = ("training", "data", "models", "nodes", "name", "description")
"""The spec's sections an override may reach into (`output` would rewire the network)."""


class OverrideError(ValueError):
    """An override names an unknown field or gives a value of the wrong type."""


def apply_overrides(spec: NetworkSpec, assignments: Sequence[str]) -> NetworkSpec:
    """The spec with each `FIELD=VALUE` applied, converted and checked again."""
    if not assignments:
        return spec
    document = msgspec.to_builtins(spec)
    for assignment in assignments:
        path, value = parse_assignment(assignment)
        _assign(document, path, value, spec)
    findings: list[Finding] = []
    changed = convert(document, NetworkSpec, (), findings)
    if changed is INVALID:  # in the spec's words: "training.batch_size: expected an integer, found ..."
        raise OverrideError("; ".join(f"--set: {format_path(finding.path)}: {finding.message}" for finding in findings))
    errors = [issue for issue in validate_spec(changed) if issue.severity == "error"]
    if errors:  # the spec's own checks: ranges (batch_size >= 1), references (backward_model)
        raise OverrideError("; ".join(f"--set: {issue.path}: {issue.message}" for issue in errors))
    return changed


def parse_assignment(assignment: str) -> tuple[tuple[str, ...], Any]:
    """`FIELD=VALUE` as the field's full path in the spec and the value read as YAML."""
    name, equals, text = assignment.partition("=")
    name = name.strip()
    if not equals or not name:
        raise OverrideError(f"--set expects FIELD=VALUE, got {assignment!r}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    return field_path(name), value


def field_path(name: str) -> tuple[str, ...]:
    """A FIELD as its path from the spec's root: a bare training field gains `training`."""
    parts = tuple(part.strip() for part in name.split("."))
    if any(not part for part in parts):
        raise OverrideError(f"--set: {name!r} is not a dotted field name")
    if parts[0] in TrainingSpec.__struct_fields__:
        return ("training", *parts)
    if parts[0] not in ROOTS:
        known = ", ".join(sorted(TrainingSpec.__struct_fields__))
        raise OverrideError(
            f"--set: training has no field {parts[0]!r}; known fields: {known};"
            f" other fields are paths under {', '.join(ROOTS[1:])} (data.sizes.train, models.NAME.model)"
        )
    if parts[0] in ("models", "nodes") and len(parts) < 3:
        raise OverrideError(f"--set: {name!r} names no field; write {parts[0]}.NAME.FIELD")
    return parts


def format_assignment(field: str, value: Any) -> str:
    """`FIELD=VALUE` that `parse_assignment` reads back as `value` (strings unquoted if they can be)."""
    if isinstance(value, str):
        try:
            if yaml.safe_load(value) == value and "\n" not in value:
                return f"{field}={value}"
        except yaml.YAMLError:
            pass
    return f"{field}={msgspec.json.encode(value).decode()}"


def _assign(document: dict[str, Any], path: tuple[str, ...], value: Any, spec: NetworkSpec) -> None:
    shown = ".".join(path)
    if path[0] == "data" and document.get("data") is None:
        raise OverrideError(f"--set {shown}: the spec has no data section")
    if path[0] == "models" and path[1] not in document["models"]:
        raise OverrideError(f"--set {shown}: no model named {path[1]!r}; known: {', '.join(sorted(spec.models))}")
    if path[0] == "nodes":
        node = next((node for node in document["nodes"] if node.get("id") == path[1]), None)
        if node is None:
            known = ", ".join(item.get("id", "?") for item in document["nodes"])
            raise OverrideError(f"--set {shown}: no node with id {path[1]!r}; known: {known}")
        holder, rest = node, path[2:]
    else:
        holder, rest = document, path
    for depth, key in enumerate(rest[:-1]):
        child = holder.get(key)
        if not isinstance(child, dict):
            raise OverrideError(f"--set {shown}: {'.'.join(rest[:depth + 1])} is not a section with fields")
        holder = child
    holder[rest[-1]] = value
