"""The garbage collector's thresholds for a process that keeps hundreds of LLM calls in flight.

CPython collects its youngest generation every 700 net allocations. With hundreds of calls in
flight, each holding a few hundred tracked objects (coroutine frames, futures, aiohttp's
request and response objects, decoded JSON), that is many times per round trip; every
collection walks all of those live objects and promotes them, only for the next older
generation to walk them again. None of it finds garbage: the objects die by reference
counting when their call ends. The commands therefore collect the youngest generation every
50,000 net allocations instead (benchmarks/RESULTS.md, "The garbage collector's thresholds":
the DLN-2 step 3.5% faster, the client stack at 1,024 calls in flight about 25% faster).

Only the commands do this; a program that imports dlngraph keeps its own settings, and may call
`dlngraph.tune_gc()` itself.
"""

from __future__ import annotations

import gc

YOUNGEST_THRESHOLD = 50_000
"""Net allocations between collections of the youngest generation (CPython's default: 700)."""
OLDER_THRESHOLDS = (10, 10)
"""CPython's defaults for the two older generations."""


def tune_gc() -> None:
    """Collect the youngest generation less often (see the module docstring)."""
    gc.set_threshold(YOUNGEST_THRESHOLD, *OLDER_THRESHOLDS)
