"""Drawing training batches and in-context demonstrations from a split.

`BatchSampler` yields batches forever, pass after pass over the examples (an epoch). With
`balanced` (the paper's `balance_batch`) every batch holds an equal share of each label, so
a rare class weighs as much as a frequent one in each prompt update. `few_shot` picks the
demonstrations of an in-context baseline, also spread evenly over the labels.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterator, Sequence

from dlngraph.data.types import Example


class BatchSampler:
    """Batches of `batch_size` examples, forever; iterate it or call `next()`.

    Unbalanced, each epoch is a fresh shuffle of all examples cut into batches, so every
    example is seen once per epoch; a batch that straddles two epochs is completed from the
    next shuffle without repeating an example. Balanced, each label runs through its own
    shuffles: every example of a label is seen once before any is seen again, and rare labels
    come round more often. A label's share never exceeds its number of examples (the rest goes
    to the other labels), so no batch holds an example twice.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        batch_size: int,
        *,
        rng: random.Random,
        balanced: bool = False,
        labels: Sequence[str] | None = None,
    ) -> None:
        if not examples:
            raise ValueError("cannot draw batches from no examples")
        if not 1 <= batch_size <= len(examples):
            raise ValueError(f"batch_size must be from 1 to the {len(examples)} examples, found {batch_size}")
        self.examples = list(examples)
        self.batch_size = batch_size
        self.rng = rng
        groups = _group_by_label(self.examples, labels) if balanced else {"": list(range(len(self.examples)))}
        self._cycles = {label: _ShuffledCycle(indices, rng) for label, indices in groups.items() if indices}

    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.examples) / self.batch_size)

    def __iter__(self) -> Iterator[list[Example]]:
        return self

    def __next__(self) -> list[Example]:
        batch: list[int] = []
        for label, share in self._shares().items():
            batch += self._cycles[label].take(share)
        if len(self._cycles) > 1:
            self.rng.shuffle(batch)  # interleave the labels
        return [self.examples[index] for index in batch]

    def _shares(self) -> dict[str, int]:
        """How many examples of each label the next batch takes: equal, the remainder at random."""
        order = self.rng.sample(list(self._cycles), len(self._cycles))
        shares = dict.fromkeys(order, 0)
        remaining = self.batch_size
        while remaining:
            for label in order:
                if remaining and shares[label] < self._cycles[label].size:
                    shares[label] += 1
                    remaining -= 1
        return shares


def few_shot(examples: Sequence[Example], k: int, *, rng: random.Random) -> list[Example]:
    """`k` distinct examples spread evenly over the targets, taking the labels in turn.

    The label order is random, so which label gets the extra demonstration (when `k` does
    not divide evenly) varies with `rng`. A label with too few examples leaves its turn to
    the others.
    """
    if not 0 <= k <= len(examples):
        raise ValueError(f"k must be from 0 to the {len(examples)} examples, found {k}")
    groups = _group_by_label(list(examples), None)
    pools = {label: deque(rng.sample(indices, len(indices))) for label, indices in groups.items()}
    order = rng.sample(list(pools), len(pools))
    chosen: list[int] = []
    while len(chosen) < k:
        for label in order:
            if pools[label] and len(chosen) < k:
                chosen.append(pools[label].popleft())
    return [examples[index] for index in chosen]


def _group_by_label(examples: list[Example], labels: Sequence[str] | None) -> dict[str, list[int]]:
    """Example indices by target, in `labels` order (default: order of first appearance)."""
    groups: dict[str, list[int]] = {label: [] for label in labels or []}
    for index, example in enumerate(examples):
        if labels is not None and example.target not in groups:
            raise ValueError(f"example {example.id} has target {example.target!r}, which is not one of the labels {list(labels)}")
        groups.setdefault(example.target, []).append(index)
    return groups


class _ShuffledCycle:
    """Indices handed out in shuffled passes: each index once per pass, a new shuffle after."""

    def __init__(self, indices: list[int], rng: random.Random) -> None:
        self.indices = indices
        self.size = len(indices)
        self.rng = rng
        self.queue: deque[int] = deque()

    def take(self, count: int) -> list[int]:
        """`count` distinct indices (`count` <= size), continuing the current pass."""
        taken: list[int] = []
        while len(taken) < count:
            if not self.queue:
                self._new_pass(avoid=set(taken))
            taken.append(self.queue.popleft())
        return taken

    def _new_pass(self, *, avoid: set[int]) -> None:
        """A fresh shuffle, with the indices already in this batch moved to its end."""
        order = self.rng.sample(self.indices, self.size)
        self.queue.extend([index for index in order if index not in avoid] + [index for index in order if index in avoid])
