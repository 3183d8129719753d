"""Numbers: counts, sizes, limits and temperatures within their meaningful ranges.

The rules are a table keyed by schema Struct; a walk over the spec applies them wherever such
a Struct appears, so a new numeric field needs one line here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec

from dlngraph.spec.data import FileData, PresetData, SplitSizes
from dlngraph.spec.errors import Finding
from dlngraph.spec.models import Limits, ModelSpec, Sampling, WeightedEndpoint
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.nodes import LMNode
from dlngraph.spec.training import TrainingSpec


@dataclass(frozen=True)
class Range:
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    """True when `low` itself is not allowed (a value must be > low)."""
    high_open: bool = False
    """True when `high` itself is not allowed (a value must be < high)."""

    def allows(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        low = f"> {_number(self.low)}" if self.low_open else f">= {_number(self.low)}"
        if self.high == math.inf:
            return low
        return f"{low} and {'<' if self.high_open else '<='} {_number(self.high)}"


AT_LEAST_ONE = Range(1)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, low_open=True)
_CAPS = {"max_train": AT_LEAST_ONE, "max_dev": AT_LEAST_ONE, "max_test": AT_LEAST_ONE}

RULES: dict[type[msgspec.Struct], dict[str, Range]] = {
    LMNode: {"max_tokens": AT_LEAST_ONE, "temperature": NON_NEGATIVE, "num_demos": NON_NEGATIVE},
    Sampling: {"max_tokens": AT_LEAST_ONE, "temperature": NON_NEGATIVE, "top_p": Range(0, 1, low_open=True)},
    Limits: {
        "max_concurrency": AT_LEAST_ONE,
        "requests_per_minute": POSITIVE,
        "tokens_per_minute": POSITIVE,
        "max_attempts": AT_LEAST_ONE,
        "connect_timeout_s": POSITIVE,
        "read_timeout_s": POSITIVE,
        "request_timeout_s": POSITIVE,
    },
    WeightedEndpoint: {"weight": POSITIVE},
    ModelSpec: {"context_window": AT_LEAST_ONE, "n_threads": AT_LEAST_ONE, "prompts_per_request": AT_LEAST_ONE},
    TrainingSpec: {
        "iterations": NON_NEGATIVE,
        "batch_size": AT_LEAST_ONE,
        "num_p_samples": AT_LEAST_ONE,
        "num_h_samples": AT_LEAST_ONE,
        "num_demos": NON_NEGATIVE,
        "num_demo_sets": NON_NEGATIVE,
        "posterior_temp": POSITIVE,
        "trust_factor": NON_NEGATIVE,
        "use_memory": NON_NEGATIVE,
        "logp_penalty": NON_NEGATIVE,
        "val_freq": AT_LEAST_ONE,
        "validate_top": AT_LEAST_ONE,
        "tolerance": Range(-1),
        "early_stop": Range(-1),
        "burn_in_ratio": Range(0, 1, high_open=True),
        "num_p1_steps": AT_LEAST_ONE,
        "proposal_max_tokens": AT_LEAST_ONE,
        "posterior_max_tokens": AT_LEAST_ONE,
    },
    SplitSizes: {"train": NON_NEGATIVE, "dev": NON_NEGATIVE, "test": NON_NEGATIVE},
    FileData: {
        "dev_fraction": Range(0, 1, high_open=True),  # 1 would leave nothing to train on
        **_CAPS,
    },
    PresetData: _CAPS,
}


def check_ranges(spec: NetworkSpec) -> list[Finding]:
    return check_struct_ranges(spec)


def check_struct_ranges(value: msgspec.Struct, path: tuple[str | int, ...] = ()) -> list[Finding]:
    """The rules applied to any part of a spec (the data loader checks a `data:` section this
    way when it is given one that no spec check has seen)."""
    findings: list[Finding] = []
    _walk(value, path, findings)
    return findings


def _walk(value: Any, path: tuple[str | int, ...], findings: list[Finding]) -> None:
    if isinstance(value, msgspec.Struct):
        for name, allowed in RULES.get(type(value), {}).items():
            number = getattr(value, name)
            if number is not None and not allowed.allows(number):
                findings.append(Finding((*path, name), f"expected a value {allowed.describe()}, found {number}"))
        for field in msgspec.structs.fields(value):
            _walk(getattr(value, field.name), (*path, field.encode_name), findings)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _walk(item, (*path, index), findings)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(item, (*path, key), findings)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
