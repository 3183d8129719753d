"""numpy's legacy `RandomState(seed)`, in pure Python, for the draws the paper's splits make.

The DLN paper's code splits its data with `numpy.random.RandomState(42)`: `shuffle`,
`permutation` and `choice(n, size, replace=False)`. Reproducing those splits item for item
needs the same generator, but numpy is too heavy a dependency for four shuffles. Both numpy
and Python's `random` are the Mersenne Twister; only the seeding differs, so we seed
Python's generator the way numpy does (`init_genrand`) and draw bounded integers the way
numpy's legacy `random_interval` does (masked rejection sampling).
"""

from __future__ import annotations

import random
from typing import Any

_STATE_WORDS = 624
_WORD = 0xFFFFFFFF


class LegacyRandomState:
    """The subset of `numpy.random.RandomState(seed)` the paper's data loading uses."""

    def __init__(self, seed: int) -> None:
        if not 0 <= seed <= _WORD:
            raise ValueError(f"seed must be from 0 to 2**32 - 1, found {seed}")
        self._random = random.Random()
        self._random.setstate((3, (*_init_genrand(seed), _STATE_WORDS), None))

    def shuffle(self, items: list[Any]) -> None:
        """Shuffle `items` in place, as `RandomState.shuffle` does (Fisher-Yates from the end)."""
        for i in reversed(range(1, len(items))):
            j = self._interval(i)
            items[i], items[j] = items[j], items[i]

    def permutation(self, n: int) -> list[int]:
        """`RandomState.permutation(n)`: 0..n-1 shuffled."""
        order = list(range(n))
        self.shuffle(order)
        return order

    def choice_without_replacement(self, n: int, size: int) -> list[int]:
        """`RandomState.choice(n, size, replace=False)`: the first `size` of a permutation."""
        if not 0 <= size <= n:
            raise ValueError(f"cannot choose {size} of {n} without replacement")
        return self.permutation(n)[:size]

    def _interval(self, top: int) -> int:
        """A uniform integer from 0 to `top`, drawn as numpy's legacy `random_interval` does."""
        if top == 0:
            return 0
        mask = (1 << top.bit_length()) - 1
        while True:
            value = self._random.getrandbits(32) & mask
            if value <= top:
                return value


def _init_genrand(seed: int) -> list[int]:
    """The Mersenne Twister state numpy derives from an integer seed."""
    state = [seed]
    for index in range(1, _STATE_WORDS):
        previous = state[-1]
        state.append((1812433253 * (previous ^ (previous >> 30)) + index) & _WORD)
    return state
