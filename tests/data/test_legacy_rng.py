"""The pure-Python copy of numpy's legacy RandomState draws exactly what numpy draws."""

from __future__ import annotations

import pytest

from dlngraph.data.legacy_rng import LegacyRandomState


def test_known_permutation_of_seed_42() -> None:
    # numpy.random.RandomState(42).permutation(10), recorded once
    assert LegacyRandomState(42).permutation(10) == [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]


@pytest.mark.parametrize("seed", [0, 1, 42, 2**32 - 1])
def test_matches_numpy(seed: int) -> None:
    numpy = pytest.importorskip("numpy")
    ours, theirs = LegacyRandomState(seed), numpy.random.RandomState(seed)
    for n in (1, 2, 3, 10, 750, 5452):
        items = list(range(n))
        expected = list(range(n))
        ours.shuffle(items)
        theirs.shuffle(expected)
        assert items == expected
        assert ours.permutation(n) == theirs.permutation(n).tolist()
        assert ours.choice_without_replacement(n, n // 2) == theirs.choice(n, n // 2, replace=False).tolist()


def test_rejects_what_numpy_rejects() -> None:
    with pytest.raises(ValueError):
        LegacyRandomState(-1)
    with pytest.raises(ValueError):
        LegacyRandomState(0).choice_without_replacement(3, 4)
