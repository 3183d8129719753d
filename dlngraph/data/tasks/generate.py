"""Building a dataset from a procedural task: balanced classes, disjoint splits, fixed by a seed."""

from __future__ import annotations

import random

from dlngraph.data.errors import DataError
from dlngraph.data.tasks.base import Task
from dlngraph.data.types import Dataset, Example

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
