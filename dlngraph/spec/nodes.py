"""The `nodes` section: the three kinds of node a network is made of.

Sources are named by node id, or by the reserved name `input` for the example's input text.
"""

from __future__ import annotations

from typing import Literal

import msgspec

INPUT = "input"
"""The reserved source name of the example's input text."""


class Demonstration(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """One worked example in an lm node's prompt: what the node read on a training example
    (`input`, and `residual` when the node has residual sources) and what it should answer
    there (`output`: the label or target at an output node, the hidden text at a hidden one).
    `source` is the training example's id, so that where a demonstration came from can be
    checked (only training examples become demonstrations)."""

    input: str
    residual: str = ""
    output: str
    source: str = ""

    def as_variables(self) -> dict[str, str]:
        """What a template sees of it (`demonstrations` is a list of these)."""
        return {"input": self.input, "residual": self.residual, "output": self.output, "source": self.source}


class LMNode(msgspec.Struct, tag="lm", tag_field="kind", forbid_unknown_fields=True, kw_only=True):
    """A language node: one LLM call whose learnable parameter is `prompt`, an instruction, plus
    up to `num_demos` `demonstrations`.

    The template sees `prompt`, `input` (its `inputs` joined by blank lines), `residual`
    (its `residual` sources joined the same way): a residual edge carries an earlier text past
    the layers in between, as in the paper's `classify_residual` template; and
    `demonstrations`, a list of {input, residual, output, source}.
    `template` names a built-in template (`name` or `name@version`); `template_source` is an
    inline jinja template used instead.
    """

    id: str
    model: str
    template: str = "forward"
    template_source: str | None = None
    prompt: str = ""
    trainable: bool = True
    inputs: list[str] = msgspec.field(default_factory=lambda: [INPUT])
    residual: list[str] = msgspec.field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    classes: list[str] | None = None
    """Output classes, each `label|verbalizer|...` (e.g. `yes|Yes`); the first is the label."""
    proposal_template: str = "proposal"
    posterior_template: str = "posterior"
    num_demos: int | None = None
    """How many demonstrations training learns for this node; None takes `training.num_demos`."""
    demonstrations: list[Demonstration] = msgspec.field(default_factory=list)
    """Shown in the prompt before the example (the initial ones, or those training learned)."""


class VoteNode(msgspec.Struct, tag="vote", tag_field="kind", forbid_unknown_fields=True, kw_only=True):
    """Combines class outputs of several nodes: majority of labels, or mean of distributions."""

    id: str
    inputs: list[str]
    method: Literal["majority", "mean"] = "majority"


class ConcatNode(msgspec.Struct, tag="concat", tag_field="kind", forbid_unknown_fields=True, kw_only=True):
    """Joins several upstream texts with a template (`inputs` is a list there), no LLM call."""

    id: str
    inputs: list[str]
    template: str = "concat"
    template_source: str | None = None


Node = LMNode | VoteNode | ConcatNode
