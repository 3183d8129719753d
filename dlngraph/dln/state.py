"""The trainer's state: exactly what a checkpoint must hold to continue a run as if it had
never stopped. Batches and random choices are re-derived from the seed and the iteration, so no
generator state needs saving."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import msgspec


class Remembered(msgspec.Struct, kw_only=True):
    prompts: dict[str, str]
    dev_accuracy: float


class Spent(msgspec.Struct, kw_only=True):
    """What a run has cost so far, over all its sessions (a resumed run adds to it)."""

    calls: int = 0
    """Calls the run made, as events.jsonl counts them: cache hits and calls that joined an
    identical call in flight included."""
    requests: int = 0
    """HTTP (or embedded-model) requests sent: calls not answered by the cache or a joined
    call, once per attempt, so retries included."""
    retries: int = 0
    """Attempts repeated after a transient failure, or after the server refused a setting the
    backend then lowered (the top-logprobs cap: once per backend); counted in `requests` too."""
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0

    @classmethod
    def of(cls, usage: dict, wall_time_s: float = 0.0) -> Spent:
        """The totals of a model pool's cumulative usage (`ModelPool.usage()`)."""
        totals = usage.get("total", {})
        return cls(
            calls=int(totals.get("calls", 0)),
            requests=int(totals.get("requests", 0)),
            retries=int(totals.get("retries", 0)),
            cache_hits=int(totals.get("cache_hits", 0)),
            prompt_tokens=int(totals.get("prompt_tokens", 0)),
            completion_tokens=int(totals.get("completion_tokens", 0)),
            wall_time_s=wall_time_s,
        )

    def plus(self, other: Spent) -> Spent:
        return Spent(**{name: getattr(self, name) + getattr(other, name) for name in self.__struct_fields__})

    def minus(self, other: Spent) -> Spent:
        return Spent(**{name: getattr(self, name) - getattr(other, name) for name in self.__struct_fields__})


class TrainState(msgspec.Struct, kw_only=True):
    iteration: int = 0
    """The next iteration to run."""
    prompts: dict[str, str]
    best_prompts: dict[str, str]
    best_dev_accuracy: float | None = None
    best_iteration: int = -1
    """Training steps taken when the best prompts were validated: 0 for the initial prompts,
    -1 before any validation."""
    stale_validations: int = 0
    """Validations since the best dev accuracy improved (for `tolerance` and `early_stop`)."""
    reloads: int = 0
    """Times the best prompts were loaded back (`tolerance`)."""
    memory: list[Remembered] = msgspec.field(default_factory=list)
    dev_scores: dict[str, float] = msgspec.field(default_factory=dict)
    """Dev accuracy per prompt set (`prompt_key`): a prompt set is validated once."""
    stopped: Literal["running", "completed", "early_stop", "budget"] = "running"
    spent: Spent = msgspec.field(default_factory=Spent)
    """The run's cost through this checkpoint; work after it is redone (mostly from the cache)."""

    def remember(self, prompts: dict[str, str], dev_accuracy: float, size: int) -> None:
        """Keep the `size` best prompt sets by dev accuracy (`use_memory`)."""
        if size <= 0:
            return
        if all(entry.prompts != prompts for entry in self.memory):
            self.memory.append(Remembered(prompts=dict(prompts), dev_accuracy=dev_accuracy))
        self.memory.sort(key=lambda entry: entry.dev_accuracy, reverse=True)
        del self.memory[size:]

    def memory_by_node(self) -> dict[str, list[str]]:
        by_node: dict[str, list[str]] = {}
        for entry in self.memory:
            for node, prompt in entry.prompts.items():
                by_node.setdefault(node, []).append(prompt)
        return by_node


def prompt_key(prompts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(prompts, sort_keys=True).encode()).hexdigest()[:16]
