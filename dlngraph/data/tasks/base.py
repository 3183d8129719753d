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

from dlngraph.data.errors import DataError


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
        """The task with `values` (the spec's `params`) over the defaults, or a DataError naming the bad one."""
        values = dict(values or {})
        known = set(cls.Params.__struct_fields__)
        for key in values:
            if key not in known:
                listing = ", ".join(sorted(known))
                raise DataError.about("", f"unknown parameter of task '{cls.name}' (known: {listing})", where=f"data.params.{key}")
        try:
            return cls(msgspec.convert(values, cls.Params))
        except msgspec.ValidationError as error:
            text, _, path = str(error).partition(" - at `$")
            where = "data.params" + path.rstrip("`")
            raise DataError.about("", f"{text[:1].lower()}{text[1:]} (task '{cls.name}')", where=where) from None

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
