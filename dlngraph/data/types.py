"""The two values the data layer hands to the rest of dlngraph: an example and a dataset."""

from __future__ import annotations

from typing import Protocol

import msgspec


class LabeledExample(Protocol):
    """Anything with an input text and a target (e.g. `Example`): what training, scoring and
    a metric read of an example."""

    @property
    def input(self) -> str: ...

    @property
    def target(self) -> str: ...


class Example(msgspec.Struct, frozen=True, kw_only=True):
    """One (input, target) pair.

    `id` is stable within its dataset (it names where the example came from, such as
    `train:12` for line 12 of the train file), so logs and reports can point back at it.
    """

    input: str
    target: str
    id: str


class Dataset(msgspec.Struct, kw_only=True):
    """A task's three splits plus what a network needs to start training on it.

    `instruction` is the initial prompt of the output node; `labels` lists the class words
    when the task is a classification (every target is one of them), else None.
    """

    name: str
    train: list[Example]
    dev: list[Example]
    test: list[Example]
    instruction: str | None = None
    labels: list[str] | None = None
