"""The step's likelihood terms, each asked for once per step: log p(target | rendered prompt)
of a node, by log-probabilities or (a scored node whose model has none) by accuracy.

The sharpening and the ranking share terms: the current prompt's scores on the posterior
samples are the sharpening terms, asked for again by the ranking. A class distribution the
forward pass already has (the current prompts on the forward hidden states) is not asked for
again. The fast path (a term already known) returns without yielding to the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dlngraph.dln.memo import Once
from dlngraph.dln.phases import Phase
from dlngraph.dln.postprocess import loss_of
from dlngraph.dln.roles import Roles
from dlngraph.dln.scoring import (
    Likelihood,
    ScoringMethod,
    Target,
    class_likelihood,
    likelihood,
    scoring_method,
    target_text,
)
from dlngraph.dln.step.batch import BatchViews
from dlngraph.engine.node_ops import Models, fitting_demonstrations
from dlngraph.spec.metrics import is_builtin
from dlngraph.spec.nodes import Demonstration
from dlngraph.spec.training import TrainingSpec


class Terms:
    def __init__(self, views: BatchViews, models: Models, training: TrainingSpec, roles: Roles, once: Once) -> None:
        self.views = views
        self.models = models
        self.training = training
        self.roles = roles
        self.once = once
        self.by_example = not is_builtin(training.loss)

    async def likelihood(
        self, node_id: str, rendered: str, target: Target, phase: Phase, method: ScoringMethod = "logprobs"
    ) -> Likelihood:
        node = self.views.lm(node_id)
        known = self.views.forward_run.distribution_for(node_id, rendered) if method == "logprobs" else None
        if known is not None:
            return class_likelihood(node, known, target_text(target))
        key = term_key(node_id, rendered, target, method, by_example=self.by_example)
        return await self.once.get(key, lambda: likelihood(
            self.views.network, self.models, node, rendered, target,
            method=method, phase=phase, loss=loss_of(self.training),
            burn_in_ratio=self.training.burn_in_ratio))

    async def shown(
        self, node_id: str, render: Callable[[Sequence[Demonstration]], str], demonstrations: Sequence[Demonstration],
        target: Target, phase: Phase, method: ScoringMethod = "logprobs",
    ) -> Likelihood:
        """`likelihood` of the prompt `render(shown)` that shows as many of `demonstrations` as
        fit the model's context window, the last left out first (as the forward pass does)."""
        if not demonstrations:
            return await self.likelihood(node_id, render(()), target, phase, method)
        likelihood, _ = await fitting_demonstrations(
            demonstrations, lambda shown: self.likelihood(node_id, render(shown), target, phase, method))
        return likelihood

    async def value(self, node_id: str, rendered: str, target: Target, phase: Phase, method: ScoringMethod = "logprobs") -> float:
        """The term's value (a coroutine more: not for the grids, which make thousands of calls)."""
        return (await self.likelihood(node_id, rendered, target, phase, method)).value

    def method(self, node_id: str) -> ScoringMethod:
        """How a node's likelihood terms are scored, the same for sharpening and ranking (so
        that they share terms): a scored node as `output_scoring` asks, if its model can."""
        if node_id not in self.roles.scored:
            return "logprobs"
        return scoring_method(self.models, self.views.lm(node_id), self.training.output_scoring)


def term_key(node_id: str, rendered: str, target: Target, method: str, *, by_example: bool) -> tuple[object, ...]:
    """A likelihood term's memo key. Log-probabilities and built-in losses depend on the
    target's text alone, so equal texts share a term. Under a Python metric (`by_example`),
    an accuracy is the metric on the whole example, which may read its input or id, so
    examples are told apart, by identity: the batch holds each of them for the step's life."""
    if by_example and method == "accuracy" and not isinstance(target, str):
        return ("accuracy", node_id, rendered, id(target))
    return ("likelihood", node_id, rendered, target_text(target), method)
