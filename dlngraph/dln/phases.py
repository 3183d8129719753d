"""The phases of training: what a call is for, and what the run's events mark.

One enum, so that a misspelt phase is an error where it is written rather than a call that
silently takes the wrong priority (`priorities.priority_of`) or a count no one reads. A
`StrEnum`: its members are the strings the LLM layer's tags, usage counters and events.jsonl
always held, and the layers below (engine, llm) keep taking a `str`.
"""

from __future__ import annotations

import enum


class Phase(enum.StrEnum):
    FORWARD = "forward"
    """The step's forward pass over the batch."""
    POSTERIOR = "posterior"
    """Samples of a hidden node's posterior q(h | x, target)."""
    SHARPENING = "sharpening"
    """The terms that weigh those samples (likelihoods, priors, corrections)."""
    PROPOSAL = "proposal"
    """New prompts proposed for a node."""
    SCORE = "score"
    """The terms that rank the candidate prompts (the bulk of a step)."""
    VALIDATION = "validation"
    """A pass over the dev set."""
    TEST = "test"
    """The final pass over the test set."""
    BACKWARD = "backward"
    """An event only: the step's forward pass is settled and the backward work goes on."""
