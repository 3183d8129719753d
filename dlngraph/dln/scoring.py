"""How well a prompt explains a target: the likelihood terms of the ELBO.

- a node with classes: log p(label | rendered prompt) from the class distribution;
- a free-text node: mean token log-probability of the target (echo scoring), as the paper does;
- `accuracy` when the backend cannot score: 1 - the loss of the greedy answer on the example.

A term is scored against a `Target`: an example (a scored node's: its target text, and under
`accuracy` the whole example, which the loss or a user's metric reads), or a hidden node's
target text h*, which only log-probabilities score: no metric judges hidden text.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from dlngraph.data.types import LabeledExample
from dlngraph.dln.phases import Phase
from dlngraph.dln.postprocess import Loss, example_loss
from dlngraph.dln.priorities import step_tag
from dlngraph.engine.classes import label_of
from dlngraph.engine.node_ops import Models, can_score_classes, generate_request
from dlngraph.graph import CompiledNetwork
from dlngraph.llm.types import ClassDistributionRequest, ScoreRequest
from dlngraph.spec.classes import parse_classes
from dlngraph.spec.nodes import LMNode

ScoringMethod = Literal["logprobs", "accuracy"]
Target = str | LabeledExample
"""What a node's output is scored against: an example, or a hidden node's target text."""
TARGET_SEPARATOR = "\n"
"""Put between a free-text node's rendered prompt and the target it is scored on."""


class Likelihood(msgspec.Struct, kw_only=True):
    value: float
    """log p(target | prompt), or an accuracy in {0, 1} under `accuracy` scoring."""
    distribution: dict[str, float] | None = None
    """The class distribution, for the trust-region term."""


def scoring_method(models: Models, node: LMNode, wanted: ScoringMethod) -> ScoringMethod:
    """`logprobs` when asked for and the model can provide them for this node, else accuracy."""
    if wanted == "accuracy":
        return "accuracy"
    model = models[node.model]
    able = can_score_classes(model) if node.classes else model.capabilities.echo_scoring
    return "logprobs" if able else "accuracy"


async def likelihood(
    network: CompiledNetwork,
    models: Models,
    node: LMNode,
    rendered: str,
    target: Target,
    *,
    method: ScoringMethod,
    phase: Phase,
    loss: str | Loss = "exact_match",
    burn_in_ratio: float = 0.0,
) -> Likelihood:
    """log p(target | rendered) by `node`'s model, or under `accuracy` 1 - `loss` of its greedy
    answer on the example `target` must then be (a hidden text has no answer to judge)."""
    if method == "accuracy" and isinstance(target, str):
        raise ValueError(f"node '{node.id}': accuracy scores an answer against an example;"
                         " a hidden node's target text is scored by log-probabilities only")
    model = models[node.model]
    tag = step_tag(node.id, phase)
    if method == "accuracy":
        request = generate_request(network, node, rendered, temperature=0.0, sample=0, seed=None)
        answer = (await model.generate(request, tag=tag)).text
        return Likelihood(value=1.0 - example_loss(answer, target, loss))
    text = target_text(target)
    if node.classes:
        request = ClassDistributionRequest(prompt=rendered, classes=parse_classes(node.classes))
        distribution = await model.class_distribution(request, tag=tag)
        return class_likelihood(node, distribution.probs, text)
    score = await model.score(
        ScoreRequest(context=rendered, target=TARGET_SEPARATOR + text, burn_in_ratio=burn_in_ratio), tag=tag
    )
    return Likelihood(value=score.logprob_mean)


def target_text(target: Target) -> str:
    """The text a target asks for: an example's target, or the hidden text itself."""
    return target if isinstance(target, str) else target.target


def class_likelihood(node: LMNode, probs: dict[str, float], target: str) -> Likelihood:
    """log p(target's class) under a class distribution of `node`, floored at 1e-12."""
    label = label_of(target, parse_classes(node.classes))
    if label is None:
        raise ValueError(f"target {target!r} is none of node '{node.id}' classes {node.classes}")
    return Likelihood(value=math.log(max(probs.get(label, 0.0), 1e-12)), distribution=probs)
