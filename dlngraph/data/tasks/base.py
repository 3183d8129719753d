"""What a procedural task is: a generator of inputs whose exact answer is a chosen label.

Drawing the label first and then an input with that answer lets the dataset builder balance
the classes by construction, and keeps the ground truth exact (no model, no annotation).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import msgspec

from dlngraph.data.errors import DataError, DataIssue
from dlngraph.spec.convert import INVALID, convert
from dlngraph.spec.errors import Finding
from dlngraph.spec.paths import format_path


class Task(ABC):
    """A procedural task with its difficulty parameters already checked."""

    name: ClassVar[str]
    classification: ClassVar[bool] = True
    """Whether the answers are classes (the network may score them) or free answers that happen to be finite."""
    Params: ClassVar[type[msgspec.Struct]]
    """The task's parameters: a frozen Struct with defaults; `__post_init__` checks ranges."""

    def __init__(self, params: Any) -> None:
        self.params = params

    @classmethod
    def from_params(cls, values: Mapping[str, object] | None = None) -> Self:
        """The task with `values` (the spec's `params`) over the defaults, or a DataError naming every bad one.

        The spec's own conversion checks them, so a wrong type reads as it does in the spec.
        """
        values = dict(values or {})
        known = set(cls.Params.__struct_fields__)
        for key in values:
            if key not in known:
                listing = ", ".join(sorted(known))
                raise DataError.about("", f"unknown parameter of task '{cls.name}' (known: {listing})", where=f"data.params.{key}")
        findings: list[Finding] = []
        params = convert(values, cls.Params, ("data", "params"), findings)
        if params is INVALID:
            raise DataError([_issue(finding, cls.name) for finding in findings])
        return cls(params)

    @property
    @abstractmethod
    def instruction(self) -> str:
        """A sensible initial prompt for the task."""

    @abstractmethod
    def labels(self) -> list[str]:
        """Every answer the task can have, in a stable order."""

    @abstractmethod
    def sample(self, rng: random.Random, label: str) -> str:
        """A random input whose exact answer is `label` (one of `labels()`)."""


def _issue(finding: Finding, task: str) -> DataIssue:
    return DataIssue(file="", line=0, where=format_path(finding.path), message=f"{finding.message} (task '{task}')")
