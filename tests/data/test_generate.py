"""The generated tasks' splits are fixed by the seed: the same examples, byte for byte, for the
same seed and sizes, whatever the code that builds them looks like."""

from __future__ import annotations

import hashlib
import json

import pytest

from dlngraph.data.tasks import TASKS, generate_dataset, get_task

PINNED = {
    "navigate": "46be0e81a976880e7f6edfb5ca59bbc9d2721de1f360f91c192e734b5afa15f2",
    "object_counting": "16e6957263c2275e7c51371c8844d06c44db1f7c4f15a34074e4b8cbcf48eced",
    "reviews": "de2d309f259465224aab2d7265edd35f8137c75da9c93533eac8c8f30f97d079",
    "word_problems": "0fe0b01beeee896f7d56ce7316262fa158e0ab3d1b2f39135cc35d8bc3931de2",
}
"""sha256 of every (split, id, input, target) of each task at seed 7, sizes 30/12/13, with the
default params: recorded from the code as it was when these digests were first taken."""


def test_every_task_is_pinned() -> None:
    assert set(PINNED) == set(TASKS)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_a_seed_gives_the_same_examples_as_before(name: str) -> None:
    data = generate_dataset(get_task(name), train=30, dev=12, test=13, seed=7)
    rows = [[split, e.id, e.input, e.target] for split in ("train", "dev", "test") for e in getattr(data, split)]
    assert len(rows) == 55
    assert hashlib.sha256(json.dumps(rows).encode()).hexdigest() == PINNED[name]


def test_the_first_review_of_seed_7() -> None:
    """One example spelled out, so that a failing digest above can be read against a text."""
    first = generate_dataset(get_task("reviews"), train=1, dev=0, test=0, seed=7).train[0]
    assert (first.id, first.target) == ("train:0", "negative")
    assert first.input == ("I would not recommend it to anyone. The blender's noise level was easy to use,"
                           " but the jug was noisy.")
