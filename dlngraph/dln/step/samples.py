"""A hidden node's posterior samples (stage 3 of docs/TRAINING.md): h~ ~ q(h | x, target,
prompts) per example, the forward state h first.

An example is sampled as soon as its own hidden state and its first consumer's target on it
exist, while the other examples and the layers above may still be running.
"""

from __future__ import annotations

from typing import TypeVar

from dlngraph.dln.posterior import PosteriorQuery, sample_posterior
from dlngraph.dln.scoring import Target, target_text
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.step.batch import ExampleIndex
from dlngraph.dln.step.needs import Needs
from dlngraph.dln.step.state import StepState
from dlngraph.dln.step.waits import Need, Quantity
from dlngraph.dln.texts import reads
from dlngraph.spec.templates import get_template

T = TypeVar("T")


class Samples:
    def __init__(self, state: StepState, needs: Needs) -> None:
        self.state = state
        self.needs = needs
        self._forward_only: dict[tuple[str, ExampleIndex], bool] = {}
        """Per (hidden node, example): its samples hold posterior samples, and the forward state
        (sample 0) is not one of them (`include_h1: false` gives it no weight)."""

    async def of(self, node_id: str) -> list[list[str]]:
        """Per kept example, in `kept` order: the current hidden state first, then the distinct
        posterior samples."""
        settled = await self.state.forward_done()
        return [kept_value(await self.on(node_id, example)) for example in settled.kept]

    async def on(self, node_id: str, example: ExampleIndex) -> list[str] | None:
        """One example's hidden states: the current one first, then the distinct posterior
        samples; None if the example failed before this node's output."""
        return await self.state.once.get(("samples", node_id, example), lambda: self._sample(node_id, example))

    def forward_only(self, node_id: str, example: ExampleIndex) -> bool:
        """The example's samples hold posterior samples and the forward state is not one of them."""
        return self._forward_only.get((node_id, example), False)

    async def _sample(self, node_id: str, example: ExampleIndex) -> list[str] | None:
        """Rewriting only the examples the network got wrong (`rewrite_loss_only`) needs the
        whole forward pass first: the losses."""
        wait = self.state.waits.of(Quantity.SAMPLES, node_id)
        if not await self.needs.wait_for(wait.needs, example):
            return None
        current = self.state.views.current(node_id, example)
        wanted = wait.calls is not None
        if wait.optional_calls:
            wanted = (await self.state.forward_done()).losses.get(example, 0) > 0
        sampled = await self._posterior_samples(node_id, example, wait.call_needs) if wanted else []
        self._forward_only[node_id, example] = bool(sampled) and current not in sampled
        return list(dict.fromkeys([current, *sampled]))

    async def _posterior_samples(self, node_id: str, example: ExampleIndex, needs: tuple[Need, ...]) -> list[str]:
        """h~ ~ q(h | x, target, prompts) for one example; none when its consumer has no target for the example."""
        if not await self.needs.wait_for(needs, example):
            return []
        state = self.state
        consumer_targets = await self.needs.targets(state.roles.consumers(node_id)[0])
        node = state.lm(node_id)
        model_name = state.backward_model(node_id)
        num_samples = state.training.num_h_samples
        return await sample_posterior(
            model=state.models[model_name],
            template=get_template(node.posterior_template),
            query=self.posterior_query(node_id, example, consumer_targets[example]),
            num_samples=num_samples,
            temperature=state.backward_temperature(model_name),
            max_tokens=state.training.posterior_max_tokens,
            seed=derive_seed(state.seed, node_id, "posterior") + example * num_samples,
            node=node_id,
        )

    def posterior_query(self, node_id: str, example: ExampleIndex, target: Target) -> PosteriorQuery:
        """What the posterior template shows for one example, given its first consumer's target."""
        state = self.state
        return PosteriorQuery(
            input=reads(state.lm(node_id), state.views.texts(node_id, example)),
            h=state.views.current(node_id, example),
            target=target_text(target),
            prompt=state.prompts[node_id],
            next_prompt=state.prompts[state.roles.consumers(node_id)[0]],
        )


def kept_value(value: T | None) -> T:
    """A per-example value of a kept example: it exists, since the whole forward pass
    succeeded on that example."""
    assert value is not None, "a kept example lacks a value computed for every example that succeeded"
    return value
