"""The run directory's format: every record dlngraph writes into a run, typed.

The files themselves (atomic writes, the lock, links refused) are `rundir`'s business; this
module says what is in them. A training step returns `StepResult`, whose `NodeUpdate` and
`HiddenInference` records the trainer appends to events.jsonl.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Candidate(msgspec.Struct, kw_only=True):
    prompt: str
    origin: Literal["current", "proposal", "memory"]
    elbo: float = 0.0
    penalty: float = 0.0
    """Trust-region KL (scored nodes) or logp penalty (hidden nodes), already weighted."""
    score: float = 0.0
    """`elbo - penalty`: what the ranking maximises."""


class NodeUpdate(msgspec.Struct, kw_only=True):
    node: str
    role: Literal["scored", "hidden"]
    method: str
    candidates: list[Candidate]
    chosen: int
    dropped_proposals: int = 0
    """Proposals with nothing left after cleaning (`clean_proposal`): not candidates."""

    @property
    def prompt(self) -> str:
        return self.candidates[self.chosen].prompt


class HiddenInference(msgspec.Struct, kw_only=True):
    node: str
    mean_samples: float
    """Posterior samples per example, the current hidden state included."""
    changed: int
    """Examples whose best hidden state h* differs from the forward one."""
    normalized_entropy: float
    """Mean entropy of the sharpening weights / log(#samples): 1 flat, 0 peaked."""


class StepResult(msgspec.Struct, kw_only=True):
    iteration: int
    prompts: dict[str, str]
    updates: dict[str, NodeUpdate]
    hidden: dict[str, HiddenInference]
    batch_loss: float
    failed_examples: list[int]
