"""Seeded latency and fault injection for the scripted server.

Both are plain mutable settings a test may change between requests. Each object carries its own
random generator, seeded at construction: replacing `server.faults` (or `server.latency`) with a
new object restarts its sequence, while editing fields in place continues it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FAULT_KINDS = ("429", "500", "503", "reset", "timeout", "truncated", "malformed", "slowloris")
"""Every fault the server can inject, in the order their rates are tried."""

REJECTIONS = frozenset({"429", "500", "503", "reset"})
"""Faults answered at once, before queueing, like a front-end proxy would."""


@dataclass
class Faults:
    """How often each fault happens; `first_n` forces faults on the first requests.

    `first_n` is consumed in order: {"429": 2, "reset": 1} gives the first two requests a 429,
    the third a connection reset, and lets the random rates decide from the fourth on.
    """

    rate_429: float = 0.0
    retry_after_s: float | None = None
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_reset: float = 0.0
    rate_timeout: float = 0.0
    timeout_s: float = 30.0
    rate_truncated: float = 0.0
    rate_malformed: float = 0.0
    rate_slowloris: float = 0.0
    slowloris_s: float = 5.0
    """How long a slow-loris answer takes to dribble out (a few bytes at a time)."""
    first_n: dict[str, int] = field(default_factory=dict)
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _drawn: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        unknown = set(self.first_n) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self._rng = random.Random(self.seed)

    def rates(self) -> tuple[tuple[str, float], ...]:
        return (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("503", self.rate_503),
            ("reset", self.rate_reset),
            ("timeout", self.rate_timeout),
            ("truncated", self.rate_truncated),
            ("malformed", self.rate_malformed),
            ("slowloris", self.rate_slowloris),
        )

    def draw(self) -> str | None:
        """The fault of the next request, or None for a normal answer."""
        self._drawn += 1
        position = self._drawn
        for kind, count in self.first_n.items():
            if position <= count:
                return kind
            position -= count
        rates = self.rates()
        if not any(rate > 0 for _, rate in rates):
            return None
        threshold = self._rng.random()
        for kind, rate in rates:
            if threshold < rate:
                return kind
            threshold -= rate
        return None


@dataclass
class Latency:
    """Processing time of each request: uniform in mean_s * (1 ± jitter)."""

    mean_s: float = 0.0
    jitter: float = 0.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def draw(self) -> float:
        if self.mean_s <= 0:
            return 0.0
        spread = self.jitter * (2.0 * self._rng.random() - 1.0)
        return max(0.0, self.mean_s * (1.0 + spread))
