"""What a procedural task is, and the one way its train/dev/test splits are built.

A task is a generator of inputs whose exact answer is a chosen label. Drawing the label first
and then an input with that answer lets `generate_dataset` balance the answers by construction
for every task alike, and keeps the ground truth exact (no model, no annotation).
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import msgspec

from dlngraph.data.errors import DataError, DataIssue
from dlngraph.data.types import Dataset, Example
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


# --- building the splits of any task ----------------------------------------------------------

MAX_ATTEMPTS_PER_EXAMPLE = 1000
"""Draws allowed to find an input not seen before; past it the params allow too few inputs."""


def generate_dataset(
    task: Task, *, train: int, dev: int, test: int, seed: int, instruction: str | None = None
) -> Dataset:
    """`train`, `dev` and `test` examples of `task`; no input appears twice across the splits.

    Every split holds each answer equally often (the remainder at random), whether or not
    the task is a classification: a skewed answer distribution would let a prompt score
    well by guessing the common answer.

    One `random.Random(seed)` draws train, then dev, then test, so the train split of a seed
    does not change when only the dev or test size does.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    splits = {name: _split(task, name, size, rng, seen) for name, size in (("train", train), ("dev", dev), ("test", test))}
    return Dataset(
        name=task.name,
        instruction=instruction or task.instruction,
        labels=task.labels() if task.classification else None,
        **splits,
    )


def balanced_targets(labels: list[str], size: int, rng: random.Random) -> list[str]:
    """`size` labels in random order, each label used equally often (the remainder at random)."""
    rounds, remainder = divmod(size, len(labels))
    targets = labels * rounds + rng.sample(labels, remainder)
    rng.shuffle(targets)
    return targets


def _split(task: Task, split: str, size: int, rng: random.Random, seen: set[str]) -> list[Example]:
    if size < 0:
        raise DataError.about("", f"expected a size of 0 or more, found {size}", where=f"data.sizes.{split}")
    examples = []
    for index, target in enumerate(balanced_targets(task.labels(), size, rng)):
        text = _fresh_input(task, target, rng, seen)
        if text is None:
            raise DataError.about(
                "",
                f"task '{task.name}' found only {index} distinct '{split}' inputs of the {size} asked "
                f"(after {MAX_ATTEMPTS_PER_EXAMPLE} draws for label '{target}'); "
                "its params allow too few different inputs: widen them or ask for fewer examples",
                where="data.params",
            )
        seen.add(text)
        examples.append(Example(input=text, target=target, id=f"{split}:{index}"))
    return examples


def _fresh_input(task: Task, target: str, rng: random.Random, seen: set[str]) -> str | None:
    for _ in range(MAX_ATTEMPTS_PER_EXAMPLE):
        text = task.sample(rng, target)
        if text not in seen:
            return text
    return None
