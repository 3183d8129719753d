"""Training batches and few-shot demonstrations: balanced, deterministic, covering the data."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlngraph.data import BatchSampler, Example, few_shot


def examples_with(counts: dict[str, int]) -> list[Example]:
    """`counts[label]` examples of each label, grouped by label as files often are."""
    return [Example(input=f"{label} {i}", target=label, id=f"{label}:{i}") for label, count in counts.items() for i in range(count)]


def draw(sampler: BatchSampler, batches: int) -> list[list[Example]]:
    return [next(sampler) for _ in range(batches)]


def as_even_as_possible(shares: dict[str, int], sizes: dict[str, int]) -> bool:
    """No label has two fewer than another unless it has no more examples to give."""
    return all(shares[a] >= shares[b] - 1 or shares[a] == sizes[a] for a in sizes for b in sizes)


def evenly_covered(stream: list[Example], pool: list[Example]) -> bool:
    """Every example of `pool` was drawn equally often, give or take one: epoch after epoch."""
    seen = Counter(example.id for example in stream)
    times = [seen[example.id] for example in pool]
    return max(times) - min(times) <= 1


label_sizes = st.dictionaries(st.sampled_from("ABCDE"), st.integers(1, 12), min_size=1)


@settings(max_examples=60, deadline=None)
@given(label_sizes, st.integers(1, 40), st.integers(0, 2**32), st.integers(1, 12))
def test_balanced_batches(sizes: dict[str, int], batch_size: int, seed: int, batches: int) -> None:
    data = examples_with(sizes)
    batch_size = min(batch_size, len(data))
    sampler = BatchSampler(data, batch_size, rng=random.Random(seed), balanced=True)
    stream = []
    for batch in draw(sampler, batches):
        assert len(batch) == batch_size
        assert len({example.id for example in batch}) == batch_size  # no example twice in a batch
        shares = Counter(example.target for example in batch)
        assert as_even_as_possible({label: shares[label] for label in sizes}, sizes)
        stream += batch
    for label in sizes:  # each label runs through its examples before repeating any
        assert evenly_covered([e for e in stream if e.target == label], [e for e in data if e.target == label])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.integers(0, 2**32), st.integers(1, 10))
def test_unbalanced_batches_cover_each_epoch(size: int, batch_size: int, seed: int, batches: int) -> None:
    data = examples_with({"A": size})
    batch_size = min(batch_size, size)
    sampler = BatchSampler(data, batch_size, rng=random.Random(seed))
    stream = [example for batch in draw(sampler, batches) for example in batch]
    assert all(len({e.id for e in stream[i : i + batch_size]}) == batch_size for i in range(0, len(stream), batch_size))
    for start in range(0, len(stream) - size + 1, size):  # each epoch is a permutation of the data
        assert sorted(e.id for e in stream[start : start + size]) == sorted(e.id for e in data)


def test_one_epoch_sees_every_example_once() -> None:
    data = examples_with({"A": 7, "B": 3})
    sampler = BatchSampler(data, 5, rng=random.Random(0))
    assert sampler.batches_per_epoch == 2
    assert sorted(e.id for batch in draw(sampler, 2) for e in batch) == sorted(e.id for e in data)


def test_balanced_batches_mix_a_skewed_dataset_evenly() -> None:
    data = examples_with({"yes": 90, "no": 10})
    for batch in draw(BatchSampler(data, 10, rng=random.Random(1), balanced=True), 20):
        assert Counter(e.target for e in batch) == {"yes": 5, "no": 5}


def test_same_seed_same_batches() -> None:
    data = examples_with({"A": 20, "B": 13, "C": 4})
    for balanced in (False, True):
        first = draw(BatchSampler(data, 6, rng=random.Random(9), balanced=balanced), 10)
        assert draw(BatchSampler(data, 6, rng=random.Random(9), balanced=balanced), 10) == first
        assert draw(BatchSampler(data, 6, rng=random.Random(10), balanced=balanced), 10) != first


def test_declared_labels_are_checked() -> None:
    data = examples_with({"A": 3, "B": 3})
    sampler = BatchSampler(data, 4, rng=random.Random(0), balanced=True, labels=["B", "A", "C"])  # C has no examples
    assert all(Counter(e.target for e in batch) == {"A": 2, "B": 2} for batch in draw(sampler, 5))
    with pytest.raises(ValueError, match="not one of the labels"):
        BatchSampler(data, 2, rng=random.Random(0), balanced=True, labels=["A"])


@pytest.mark.parametrize("batch_size", [0, 7])
def test_batch_size_must_fit(batch_size: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(examples_with({"A": 6}), batch_size, rng=random.Random(0))


@settings(max_examples=60, deadline=None)
@given(label_sizes, st.integers(0, 60), st.integers(0, 2**32))
def test_few_shot_is_balanced_and_distinct(sizes: dict[str, int], k: int, seed: int) -> None:
    data = examples_with(sizes)
    k = min(k, len(data))
    shots = few_shot(data, k, rng=random.Random(seed))
    assert len(shots) == k and len({e.id for e in shots}) == k
    shares = Counter(e.target for e in shots)
    assert as_even_as_possible({label: shares[label] for label in sizes}, sizes)


def test_few_shot_is_deterministic_and_spreads_labels() -> None:
    data = examples_with({"positive": 50, "negative": 5})
    shots = few_shot(data, 4, rng=random.Random(3))
    assert shots == few_shot(data, 4, rng=random.Random(3))
    assert Counter(e.target for e in shots) == {"positive": 2, "negative": 2}
    assert Counter(e.target for e in few_shot(data, 12, rng=random.Random(3))) == {"positive": 7, "negative": 5}
    assert few_shot(data, 0, rng=random.Random(3)) == []
    with pytest.raises(ValueError, match="k must be"):
        few_shot(data, 56, rng=random.Random(3))
