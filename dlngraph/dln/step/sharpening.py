"""Posterior sharpening (stage 4 of docs/TRAINING.md): the terms that weigh each hidden
node's samples, the weights, and the best hidden state h*.

    w_ij = softmax_j((sum_c log p(target_c | h~_ij) + log p(h~_ij | x) - corrections) / T)

An example's terms are asked for as soon as its samples and its consumers' forward outputs and
targets exist, before the rest of the batch. They are urgent and on the critical path:
`sent` lets bulk scores wait until they have been asked for (not answered).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Mapping

import anyio

from dlngraph.dln import elbo
from dlngraph.dln.phases import Phase
from dlngraph.dln.posterior import posterior_logprob, render_posterior
from dlngraph.dln.run_format import HiddenInference
from dlngraph.dln.scoring import Likelihood, ScoringMethod, Target
from dlngraph.dln.step.batch import ExampleIndex
from dlngraph.dln.step.needs import Needs
from dlngraph.dln.step.samples import Samples, kept_value
from dlngraph.dln.step.state import StepState
from dlngraph.dln.step.waits import Quantity
from dlngraph.engine import gather
from dlngraph.spec.nodes import INPUT
from dlngraph.spec.templates import get_template

SharpeningTerms = tuple[list[float] | None, list[float]]
"""Per hidden state j of one example: sum_c log p(target_c | h~_j) (None if the example
failed), and log p(h~_j | x) (empty without the prior)."""


class Sharpening:
    def __init__(self, state: StepState, needs: Needs, samples: Samples) -> None:
        self.state = state
        self.needs = needs
        self.samples = samples
        self._sent: dict[tuple[str, ExampleIndex], anyio.Event] = {}

    async def weights(self, node_id: str) -> list[list[float]]:
        """The sharpening weights of a hidden node, per kept example in `kept` order."""
        return await self.state.once.get(("weights", node_id), lambda: self._sharpen(node_id))

    async def best_hidden(self, node_id: str) -> list[str]:
        """h* per kept example, in `kept` order: the sample with the highest weight."""
        samples = await self.samples.of(node_id)
        weights = await self.weights(node_id)
        return [per_row[elbo.argmax(row_weights)] for per_row, row_weights in zip(samples, weights, strict=True)]

    async def sent(self, node_id: str, example: ExampleIndex | None = None) -> None:
        """Wait until every sharpening term of `node_id` (on one example, or on every kept
        one) has been asked for, not answered. Bulk scores asked for after this point queue
        behind them rather than take the slots they need."""
        if example is not None:
            await self._sent_event(node_id, example).wait()
            return
        for kept in (await self.state.forward_done()).kept:
            await self._sent_event(node_id, kept).wait()

    def _sent_event(self, node_id: str, example: ExampleIndex) -> anyio.Event:
        if (node_id, example) not in self._sent:
            self._sent[node_id, example] = anyio.Event()
        return self._sent[node_id, example]

    async def _sharpen(self, node_id: str) -> list[list[float]]:
        state = self.state
        await self.needs.wait_for(state.waits.of(Quantity.BEST, node_id).needs)
        settled = await state.forward_done()
        terms = [await self.terms(node_id, example) for example in settled.kept]
        likelihoods = [kept_value(likelihood) for likelihood, _ in terms]
        if not state.training.include_h1:
            likelihoods = [
                [-math.inf, *row[1:]] if self.samples.forward_only(node_id, example) else row
                for row, example in zip(likelihoods, settled.kept, strict=True)
            ]
        priors = [prior for _, prior in terms] if state.training.include_prior and state.echo(node_id) else None
        return elbo.sharpening_weights(likelihoods, priors, state.training.posterior_temp)

    async def start(self, node_id: str, example: ExampleIndex) -> None:
        """Ask one example's sharpening terms as early as they can be. Which examples the step
        keeps is known only once the whole forward pass is done: a failure on an example the
        forward pass then drops (it failed further up, in another node) does not fail the
        step; a failure on a kept one does (it is raised here, and by `weights`, from the memo)."""
        try:
            await self.terms(node_id, example)
        except Exception:
            if example in (await self.state.forward_done()).kept:
                raise

    async def terms(self, node_id: str, example: ExampleIndex) -> SharpeningTerms:
        """(None, []) for an example that failed before this node's consumers."""
        return await self.state.once.get(("sharpening", node_id, example), lambda: self._ask(node_id, example))

    async def _ask(self, node_id: str, example: ExampleIndex) -> SharpeningTerms:
        state = self.state
        sent = self._sent_event(node_id, example)
        try:
            if not await self.needs.wait_for(state.waits.of(Quantity.SENT, node_id).needs, example):
                return None, []
            samples = kept_value(await self.samples.on(node_id, example))
            consumers = state.roles.consumers(node_id)
            targets = [(await self.needs.targets(consumer))[example] for consumer in consumers]

            methods = {consumer: state.terms.method(consumer) for consumer in consumers}

            async def consumer_likelihood(consumer: str, target: Target, j: int) -> float:
                return (await self.consumer_term(node_id, consumer, example, samples[j], target, methods[consumer])).value

            own_prompt = state.views.render(node_id, state.prompts[node_id], example)

            async def prior(j: int) -> float:
                if state.demonstrations.get(node_id):  # rendered again with fewer if they do not fit
                    return (await state.terms.shown(
                        node_id, lambda shown: state.views.render(node_id, state.prompts[node_id], example, None, shown),
                        state.demonstrations[node_id], samples[j], Phase.SHARPENING)).value
                return (await state.terms.likelihood(node_id, own_prompt, samples[j], Phase.SHARPENING)).value

            # Every term in one gather, so that `sent` means all of them (several consumers too).
            pairs = list(zip(consumers, targets, strict=True))
            calls = [consumer_likelihood(consumer, target, j) for j in range(len(samples)) for consumer, target in pairs]
            if state.training.include_prior and state.echo(node_id):
                calls += [prior(j) for j in range(len(samples))]
            corrections = self._corrections(node_id, example, samples, pairs, methods)
            values = await gather([*calls, *(term for _, term in corrections)], started=sent)
            width = len(pairs)
            likelihoods = [sum(values[j * width:(j + 1) * width]) for j in range(len(samples))]
            for (j, _), value in zip(corrections, values[len(calls):], strict=True):
                likelihoods[j] -= value
            return likelihoods, values[len(samples) * width:len(calls)]
        finally:
            sent.set()  # also when nothing was asked: no one waits in vain

    async def consumer_term(
        self, node_id: str, consumer: str, example: ExampleIndex, hidden: str, target: Target, method: ScoringMethod,
    ) -> Likelihood:
        """log p(target | consumer's prompt with `hidden` as the node's output), the consumer
        showing its demonstrations that fit the context window."""
        state = self.state
        return await state.terms.shown(
            consumer, lambda shown: state.views.render(consumer, state.prompts[consumer], example, {node_id: hidden}, shown),
            state.demonstrations.get(consumer, []), target, Phase.SHARPENING, method,
        )

    def _corrections(
        self, node_id: str, example: ExampleIndex, samples: list[str], pairs: list[tuple[str, Target]],
        methods: Mapping[str, ScoringMethod],
    ) -> list[tuple[int, Awaitable[float]]]:
        """Terms taken off sample j's sharpening logit, as (j, term), for the paper's
        `posterior_sharpening_use_mi_regularization` (each consumer's log p(target | h~_j) with
        the sample alone, its residual input left empty) and
        `posterior_sharpening_correct_weighting` (log q(h~_j), the proposal's own probability)."""
        state = self.state
        corrections: list[tuple[int, Awaitable[float]]] = []
        if state.training.use_mi_regularization:
            for j, sample in enumerate(samples):
                for consumer, target in pairs:
                    alone = state.views.render(consumer, state.prompts[consumer], example, {node_id: sample, INPUT: ""})
                    corrections.append((j, state.terms.value(consumer, alone, target, Phase.SHARPENING, methods[consumer])))
        if state.training.correct_weighting:
            node = state.lm(node_id)
            query = self.samples.posterior_query(node_id, example, pairs[0][1])
            prompt = render_posterior(get_template(node.posterior_template), query)
            model = state.models[state.backward_model(node_id)]
            masked = not state.training.include_h1 and self.samples.forward_only(node_id, example)
            for j, sample in enumerate(samples):
                if j > 0 or not masked:  # a forward state with no weight needs no term
                    corrections.append((j, posterior_logprob(model=model, prompt=prompt, sample=sample, node=node_id)))
        return corrections

    async def summary(self, node_id: str) -> HiddenInference:
        """What the step's record keeps of a hidden node's inference."""
        settled = await self.state.forward_done()
        samples = await self.samples.of(node_id)
        weights = await self.weights(node_id)
        best = await self.best_hidden(node_id)
        entropies = [
            -sum(w * math.log(w) for w in row if w > 0) / math.log(len(row)) if len(row) > 1 else 0.0
            for row in weights
        ]
        current = [self.state.views.current(node_id, example) for example in settled.kept]
        return HiddenInference(
            node=node_id,
            mean_samples=sum(map(len, samples)) / len(samples),
            changed=sum(1 for text, forward in zip(best, current, strict=True) if text != forward),
            normalized_entropy=sum(entropies) / len(entropies),
        )
