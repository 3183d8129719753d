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
from dlngraph.dln.step.base import StepBase
from dlngraph.dln.step.batch import ExampleIndex
from dlngraph.dln.step.waits import Need, Quantity
from dlngraph.dln.texts import reads
from dlngraph.spec.templates import get_template

T = TypeVar("T")


class Samples(StepBase):
    async def samples(self, node_id: str) -> list[list[str]]:
        """Per kept example, in `kept` order: the current hidden state first, then the distinct
        posterior samples."""
        settled = await self.forward_done()
        return [kept_value(await self.example_samples(node_id, example)) for example in settled.kept]

    async def example_samples(self, node_id: str, example: ExampleIndex) -> list[str] | None:
        """One example's hidden states: the current one first, then the distinct posterior
        samples; None if the example failed before this node's output."""
        return await self.once.get(("samples", node_id, example), lambda: self._sample(node_id, example))

    async def _sample(self, node_id: str, example: ExampleIndex) -> list[str] | None:
        """Rewriting only the examples the network got wrong (`rewrite_loss_only`) needs the
        whole forward pass first: the losses."""
        wait = self.waits.of(Quantity.SAMPLES, node_id)
        if not await self.await_needs(wait.needs, example):
            return None
        current = self.views.current(node_id, example)
        wanted = wait.calls is not None
        if wait.optional_calls:
            wanted = (await self.forward_done()).losses.get(example, 0) > 0
        sampled = await self._posterior_samples(node_id, example, wait.call_needs) if wanted else []
        self._forward_only[node_id, example] = bool(sampled) and current not in sampled
        return list(dict.fromkeys([current, *sampled]))

    async def _posterior_samples(self, node_id: str, example: ExampleIndex, needs: tuple[Need, ...]) -> list[str]:
        """h~ ~ q(h | x, target, prompts) for one example; none when its consumer has no target for the example."""
        if not await self.await_needs(needs, example):
            return []
        consumer_targets = await self.targets_by_example(self.roles.consumers(node_id)[0])
        node = self._lm(node_id)
        model_name = self._backward_model(node_id)
        num_samples = self.training.num_h_samples
        return await sample_posterior(
            model=self.models[model_name],
            template=get_template(node.posterior_template),
            query=self.posterior_query(node_id, example, consumer_targets[example]),
            num_samples=num_samples,
            temperature=self._backward_temperature(model_name),
            max_tokens=self.training.posterior_max_tokens,
            seed=derive_seed(self.seed, node_id, "posterior") + example * num_samples,
            node=node_id,
        )

    def posterior_query(self, node_id: str, example: ExampleIndex, target: Target) -> PosteriorQuery:
        """What the posterior template shows for one example, given its first consumer's target."""
        node = self._lm(node_id)
        return PosteriorQuery(
            input=reads(node, self.views.texts(node_id, example)),
            h=self.views.current(node_id, example),
            target=target_text(target),
            prompt=self.prompts[node_id],
            next_prompt=self.prompts[self.roles.consumers(node_id)[0]],
        )


def kept_value(value: T | None) -> T:
    """A per-example value of a kept example: it exists, since the whole forward pass
    succeeded on that example."""
    assert value is not None, "a kept example lacks a value computed for every example that succeeded"
    return value
