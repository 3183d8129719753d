"""Which calls of a training step go first when a model's slots are all taken.

Candidate scores are the bulk of a step (over 90% of its calls for the paper's settings) and
nothing waits on them but the final ranking. Every other call (the forward pass, posterior
samples, sharpening terms, prompt proposals) unlocks further work. Serving those first keeps
the critical path from queueing behind the bulk: list scheduling by critical path, at the cost
of two levels of priority in the LLM layer's slots.
"""

from __future__ import annotations

from dlngraph.dln.phases import Phase
from dlngraph.llm.types import Tag

URGENT = 1
BULK = 0

_PRIORITY: dict[str, int] = {phase: BULK if phase is Phase.SCORE else URGENT for phase in Phase}
"""Every phase's priority; a string that names no phase is not in it (a `KeyError`, not an
urgent call)."""


def priority_of(phase: Phase) -> int:
    """`score` (the ranking of candidates) is bulk work; every other phase unlocks some."""
    return _PRIORITY[phase]


def step_tag(node: str, phase: Phase) -> Tag:
    """The tag of a training step's call: accounting by node and phase, priority by phase."""
    return Tag(node=node, phase=phase, priority=priority_of(phase))
