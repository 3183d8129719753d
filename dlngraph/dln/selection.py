"""Whether a network validated on dev replaces the best so far: a paired test, not a bare max.

Training validates several networks on the same dev examples and keeps the best. With 100 dev
examples, the best of several is often better by a few examples' noise only, and then loses on
test (the winner's curse). Two networks scored on the same examples differ only where their
losses differ, so the gain is judged against those differences: a gain of `sum(d)`, with
`d = loss_best - loss_new` per example, must exceed `z * sqrt(sum(d * d))`. For right-or-wrong
losses that is McNemar's test: wins minus losses against the square root of their sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def replaces_best(new: Sequence[float], best: Sequence[float], z: float) -> bool:
    """Whether a network with per-example dev losses `new` replaces the best so far, whose losses
    on the same examples are `best`; `z` <= 0 takes any gain."""
    differences = [b - n for n, b in zip(new, best, strict=True)]
    gain = math.fsum(differences)
    return gain > 0 and gain > max(z, 0.0) * math.sqrt(math.fsum(d * d for d in differences))
