"""One training step of a Deep Language Network of any depth and width.

The step is written as a set of memoised quantities (see `memo.Once`) rather than as phases:
each node's posterior samples and sharpening terms (per example), its sharpening weights and
best hidden state are computed the first time something awaits them. Every trainable node's
update is started at once, and so is every example's sharpening, so
- an example's posterior sampling starts as soon as its own hidden state exists, and its
  sharpening as soon as its samples do, while the rest of the forward pass still runs;
- an output node's prompt proposals start right after the forward pass, concurrently with the
  hidden nodes' posterior sampling;
- candidate scores are asked for once the sharpening they build on has been sent (not
  answered), so they queue behind it;
- a hidden node's proposals start as soon as its best hidden state h* is known, while its
  consumer's candidates are still being scored;
- deeper hidden nodes wait only for the targets they really need (their consumer's h*).
All calls go through the LLM layer, whose limits decide how many run at a time.

For the equations and where they depart from the paper, see docs/TRAINING.md.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

import anyio
import msgspec

from dlngraph.data.types import LabeledExample
from dlngraph.dln import elbo
from dlngraph.dln.input_views import input_views
from dlngraph.dln.memo import Once
from dlngraph.dln.posterior import (
    PosteriorQuery,
    posterior_logprob,
    render_posterior,
    sample_posterior,
)
from dlngraph.dln.postprocess import example_loss, loss_of
from dlngraph.dln.priorities import priority_of
from dlngraph.dln.proposals import (
    ProposalSettings,
    Shown,
    propose_prompts,
    unique_candidates,
)
from dlngraph.dln.roles import Roles, TrainingError
from dlngraph.dln.run_format import Candidate, HiddenInference, NodeUpdate, StepResult
from dlngraph.dln.scoring import (
    Likelihood,
    ScoringMethod,
    Target,
    class_likelihood,
    likelihood,
    scoring_method,
    target_text,
)
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.texts import reads, texts_for
from dlngraph.engine import EventBus, ForwardRun, NodeOutput, gather
from dlngraph.engine.node_ops import render_lm
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.metrics import is_builtin
from dlngraph.spec.nodes import INPUT, LMNode
from dlngraph.spec.templates import get_template
from dlngraph.spec.training import TrainingSpec

T = TypeVar("T")
R = TypeVar("R")


class StepSettings(msgspec.Struct, kw_only=True):
    training: TrainingSpec
    iteration: int
    memory: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Remembered good prompts per node (`use_memory`), offered again as candidates."""


class TrainingStep:
    def __init__(
        self,
        network: CompiledNetwork,
        models,
        batch: Sequence[LabeledExample],
        settings: StepSettings,
        *,
        events: EventBus | None = None,
    ) -> None:
        self.network = network
        self.models = models
        self.batch = list(batch)
        self.settings = settings
        self.training = settings.training
        self.events = events or EventBus()
        self.roles = Roles(network)
        self.prompts = network.prompts()
        self.seed = derive_seed(self.training.seed, "step", settings.iteration)
        self.rng = random.Random(self.seed)
        self.once = Once()
        self.kept: list[int] = []
        """Examples the whole forward pass succeeded on; "rows" below index this list."""
        self.failed: list[int] = []
        self._forward_done = anyio.Event()
        self._sharpening_sent: dict[tuple[str, int], anyio.Event] = {}
        self._forward_only: dict[tuple[str, int], bool] = {}
        """Per (hidden node, example): its samples hold posterior samples, and the forward state
        (sample 0) is not one of them (`include_h1: false` gives it no weight)."""
        self.dropped_proposals: dict[str, int] = {}
        """Per node, the proposals that were empty once cleaned."""

    # ------------------------------------------------------------------ the step
    async def run(self) -> StepResult:
        self._check_scoring()
        self.forward_run = ForwardRun(
            self.network, self.models, [example.input for example in self.batch],
            seed=self.seed, keep_going=True, phase="forward", priority=priority_of("forward"),
            input_views=input_views(self.network, self.training),
        )
        examples = range(len(self.batch))
        updates, *_ = await gather([
            gather(self._update(node) for node in self.network.trainable),
            self._finish_forward(),
            gather(self._start_sharpening(node, example) for node in self.roles.hidden for example in examples),
        ])
        hidden = await gather(self._hidden_summary(node) for node in self.roles.hidden)
        return StepResult(
            iteration=self.settings.iteration,
            prompts={**self.prompts, **{update.node: update.prompt for update in updates}},
            updates={update.node: update for update in updates},
            hidden={summary.node: summary for summary in hidden},
            batch_loss=sum(self.losses) / len(self.losses),
            failed_examples=list(self.failed),
        )

    async def _finish_forward(self) -> None:
        """Run the forward pass, then settle which examples the step keeps and their losses.

        The backward work does not wait for all of it: a hidden node's posterior sampling
        starts as soon as that node's own outputs exist (`_sample`), while the layers above it
        are still running. What needs the whole batch awaits `forward_done()`."""
        self.events.publish("phase", phase="forward", iteration=self.settings.iteration)
        forward = await self.forward_run.execute()
        self.failed = forward.failed_examples
        failed = set(self.failed)
        self.kept = [i for i in range(len(self.batch)) if i not in failed]
        if not self.kept:
            cause = forward.first_cause()
            raise TrainingError(
                "every example of the batch failed in the forward pass"
                + (f"; the first failure: {cause.describe()}" if cause is not None else "")
            )
        predictions = forward.predictions()
        self.losses = [example_loss(predictions[i], self.batch[i], loss_of(self.training)) for i in self.kept]
        self.shown_rows, self.ranking_rows = self._split_rows()
        self._forward_done.set()
        self.events.publish("phase", phase="backward", iteration=self.settings.iteration)

    async def forward_done(self) -> None:
        """Wait for the whole forward pass (and `kept`, `losses` and the row split); once it is
        done, return without yielding to the event loop (see `Once.get`)."""
        if not self._forward_done.is_set():
            await self._forward_done.wait()

    def _check_scoring(self) -> None:
        for node_id in self.roles.hidden:
            node = self._lm(node_id)
            if node_id in self.network.trainable and not self.models[node.model].capabilities.echo_scoring:
                raise TrainingError(
                    f"hidden node '{node_id}' needs log-probabilities of text (echo scoring) to be trained, "
                    f"and model '{node.model}' cannot provide them; use a completions endpoint "
                    f"(vLLM, llama.cpp server) or the local backend, or set trainable: false"
                )
            backward = self._backward_model(node_id)
            if self.training.correct_weighting and not self.models[backward].capabilities.echo_scoring:
                raise TrainingError(
                    f"correct_weighting scores hidden node '{node_id}' posterior samples under the backward "
                    f"model '{backward}', which cannot provide log-probabilities of text (echo scoring)"
                )

    def _split_rows(self) -> tuple[list[int], list[int]]:
        """Rows (positions in `kept`) shown to proposals and used for ranking; with held-out
        ranking, proposals see one half of the batch and candidates are ranked on the other."""
        rows = list(range(len(self.kept)))
        if not self.training.held_out_prompt_ranking or len(rows) < 2:
            return rows, rows
        shuffled = rows[:]
        self.rng.shuffle(shuffled)
        half = len(shuffled) // 2
        return sorted(shuffled[:half]), sorted(shuffled[half:])

    # ------------------------------------------------------------------ per-example views
    def _lm(self, node_id: str) -> LMNode:
        node = self.network.node(node_id)
        assert isinstance(node, LMNode)
        return node

    def _example_texts(self, node_id: str, example: int, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        example_input = self.forward_run.input_of(node_id, example)
        return texts_for(self.network, self._lm(node_id), example_input, self.forward_run.outputs_of(example), overrides)

    def _texts(self, node_id: str, row: int, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        return self._example_texts(node_id, self.kept[row], overrides)

    def _render(self, node_id: str, prompt: str, row: int, overrides: Mapping[str, str] | None = None) -> str:
        return self._render_example(node_id, prompt, self.kept[row], overrides)

    def _current(self, node_id: str, row: int) -> str:
        return self._own_output(node_id, self.kept[row]).text

    def _render_example(self, node_id: str, prompt: str, example: int, overrides: Mapping[str, str] | None = None) -> str:
        return render_lm(self.network, self._lm(node_id), prompt, self._example_texts(node_id, example, overrides))

    def _own_output(self, node_id: str, example: int) -> NodeOutput:
        output = self.forward_run.output(node_id, example)
        assert output is not None, f"no forward output of {node_id} for example {example}"
        return output

    # ------------------------------------------------------------------ targets and posteriors
    async def _targets_by_example(self, node_id: str) -> dict[int, Target]:
        """What `node_id` should produce on each example: the example itself for scored nodes
        (its target is known before the forward pass), the best posterior sample h* for hidden
        ones (kept examples)."""
        if node_id in self.roles.scored:
            return dict(enumerate(self.batch))
        best = await self.best_hidden(node_id)
        return dict(zip(self.kept, best, strict=True))

    async def samples(self, node_id: str) -> list[list[str]]:
        """Per row: the current hidden state first, then the distinct posterior samples."""
        await self.forward_done()
        return [_kept(await self.example_samples(node_id, example)) for example in self.kept]

    async def example_samples(self, node_id: str, example: int) -> list[str] | None:
        """One example's hidden states: the current one first, then the distinct posterior
        samples; None if the example failed before this node's output."""
        return await self.once.get(("samples", node_id, example), lambda: self._sample(node_id, example))

    async def _sample(self, node_id: str, example: int) -> list[str] | None:
        """An example is sampled as soon as its own hidden state (and its consumer's target)
        exists, while the other examples and the layers above may still be running. Rewriting
        only the examples the network got wrong needs the whole forward pass first."""
        current = await self.forward_run.finished_output(node_id, example)
        if current is None:
            return None
        wanted = self.training.num_h_samples > 0
        if self.training.rewrite_loss_only and wanted:
            await self.forward_done()
            wanted = example in self.kept and self.losses[self.kept.index(example)] > 0
        sampled = await self._posterior_samples(node_id, example) if wanted else []
        self._forward_only[node_id, example] = bool(sampled) and current.text not in sampled
        return list(dict.fromkeys([current.text, *sampled]))

    async def _posterior_samples(self, node_id: str, example: int) -> list[str]:
        """h~ ~ q(h | x, target, prompts) for one example; none when its consumer has no
        target for it."""
        consumer = self.roles.consumers(node_id)[0]
        consumer_targets = await self._targets_by_example(consumer)
        if example not in consumer_targets:
            return []
        node = self._lm(node_id)
        model_name = self._backward_model(node_id)
        num_samples = self.training.num_h_samples
        return await sample_posterior(
            model=self.models[model_name],
            template=get_template(node.posterior_template),
            query=self._posterior_query(node_id, example, consumer_targets[example]),
            num_samples=num_samples,
            temperature=self._backward_temperature(model_name),
            max_tokens=self.training.posterior_max_tokens,
            seed=derive_seed(self.seed, node_id, "posterior") + example * num_samples,
            node=node_id,
        )

    def _posterior_query(self, node_id: str, example: int, target: Target) -> PosteriorQuery:
        """What the posterior template shows for one example, given its first consumer's target."""
        node = self._lm(node_id)
        return PosteriorQuery(
            input=reads(node, self._example_texts(node_id, example)),
            h=self._own_output(node_id, example).text,
            target=target_text(target),
            prompt=self.prompts[node_id],
            next_prompt=self.prompts[self.roles.consumers(node_id)[0]],
        )

    def _sharpening_corrections(
        self, node_id: str, example: int, samples: list[str], pairs: list[tuple[str, Target]], methods: Mapping[str, str]
    ) -> list[tuple[int, Awaitable[float]]]:
        """Terms taken off sample j's sharpening logit, as (j, term), for the paper's
        `posterior_sharpening_use_mi_regularization` (each consumer's log p(target | h~_j) with
        the sample alone, its residual input left empty) and
        `posterior_sharpening_correct_weighting` (log q(h~_j), the proposal's own probability)."""
        corrections: list[tuple[int, Awaitable[float]]] = []
        if self.training.use_mi_regularization:
            for j, sample in enumerate(samples):
                for consumer, target in pairs:
                    alone = self._render_example(consumer, self.prompts[consumer], example, {node_id: sample, INPUT: ""})
                    corrections.append((j, self._value(consumer, alone, target, methods[consumer])))
        if self.training.correct_weighting:
            node = self._lm(node_id)
            prompt = render_posterior(get_template(node.posterior_template), self._posterior_query(node_id, example, pairs[0][1]))
            model = self.models[self._backward_model(node_id)]
            masked = not self.training.include_h1 and self._forward_only.get((node_id, example), False)
            for j, sample in enumerate(samples):
                if j > 0 or not masked:  # a forward state with no weight needs no term
                    corrections.append((j, posterior_logprob(model=model, prompt=prompt, sample=sample, node=node_id)))
        return corrections

    async def _value(self, node_id: str, rendered: str, target: Target, method: str) -> float:
        return (await self._likelihood(node_id, rendered, target, "sharpening", method)).value

    async def weights(self, node_id: str) -> list[list[float]]:
        """The sharpening weights of a hidden node; `run` starts computing them for every
        hidden node as soon as its samples exist, whoever asks for them first."""
        return await self.once.get(("weights", node_id), lambda: self._sharpen(node_id))

    async def sharpening_sent(self, node_id: str, example: int | None = None) -> None:
        """Wait until every sharpening term of `node_id` (on one example, or on every kept
        one) has been asked for, not answered. The terms are urgent and on the critical path;
        bulk scores asked for after this point queue behind them rather than take the slots
        they need."""
        if example is not None:
            await self._sent_event(node_id, example).wait()
            return
        await self.forward_done()
        for kept in self.kept:
            await self._sent_event(node_id, kept).wait()

    def _sent_event(self, node_id: str, example: int) -> anyio.Event:
        if (node_id, example) not in self._sharpening_sent:
            self._sharpening_sent[node_id, example] = anyio.Event()
        return self._sharpening_sent[node_id, example]

    async def _sharpen(self, node_id: str) -> list[list[float]]:
        """w_ij = softmax_j((sum_c log p(target_c | h~_ij) + log p(h~_ij | x)) / T)."""
        await self.forward_done()
        terms = [await self._sharpening_terms(node_id, example) for example in self.kept]
        likelihoods = [_kept(likelihood) for likelihood, _ in terms]
        if not self.training.include_h1:
            likelihoods = [
                [-math.inf, *row[1:]] if self._forward_only.get((node_id, example)) else row
                for row, example in zip(likelihoods, self.kept, strict=True)
            ]
        priors = [prior for _, prior in terms] if self.training.include_prior and self._echo(node_id) else None
        return elbo.sharpening_weights(likelihoods, priors, self.training.posterior_temp)

    async def _start_sharpening(self, node_id: str, example: int) -> None:
        """Ask one example's sharpening terms as early as they can be. A failure stays in the
        memo: `_sharpen` raises it if the example is kept, and an example that fails further
        up the forward pass (so is not kept) does not fail the step."""
        try:
            await self._sharpening_terms(node_id, example)
        except Exception:  # noqa: BLE001, S110 - see the docstring
            pass

    async def _sharpening_terms(self, node_id: str, example: int) -> tuple[list[float] | None, list[float]]:
        """One example's sharpening terms per hidden state j: sum_c log p(target_c | h~_j) and
        log p(h~_j | x). Asked for as soon as the example's samples and its consumers'
        forward outputs exist, before the rest of the batch; (None, []) for an example that
        failed."""
        return await self.once.get(("sharpening", node_id, example), lambda: self._ask_sharpening(node_id, example))

    async def _ask_sharpening(self, node_id: str, example: int) -> tuple[list[float] | None, list[float]]:
        sent = self._sent_event(node_id, example)
        try:
            samples = await self.example_samples(node_id, example)
            consumers = self.roles.consumers(node_id)
            forward = [await self.forward_run.finished_output(consumer, example) for consumer in consumers]
            if samples is None or None in forward:
                return None, []
            targets = [(await self._targets_by_example(consumer)).get(example) for consumer in consumers]
            if None in targets:
                return None, []

            methods = {consumer: self._method(consumer) for consumer in consumers}

            async def consumer_likelihood(consumer: str, target: Target, j: int) -> float:
                rendered = self._render_example(consumer, self.prompts[consumer], example, {node_id: samples[j]})
                return (await self._likelihood(consumer, rendered, target, "sharpening", methods[consumer])).value

            own_prompt = self._render_example(node_id, self.prompts[node_id], example)

            async def prior(j: int) -> float:
                return (await self._likelihood(node_id, own_prompt, samples[j], phase="sharpening")).value

            # Every term in one gather, so that `sent` means all of them (several consumers too).
            pairs = list(zip(consumers, targets, strict=True))
            calls = [consumer_likelihood(consumer, target, j) for j in range(len(samples)) for consumer, target in pairs]
            use_prior = self.training.include_prior and self._echo(node_id)
            if use_prior:
                calls += [prior(j) for j in range(len(samples))]
            corrections = self._sharpening_corrections(node_id, example, samples, pairs, methods)
            values = await gather([*calls, *(term for _, term in corrections)], started=sent)
            width = len(pairs)
            likelihoods = [sum(values[j * width:(j + 1) * width]) for j in range(len(samples))]
            for (j, _), value in zip(corrections, values[len(calls):], strict=True):
                likelihoods[j] -= value
            return likelihoods, values[len(samples) * width:len(calls)]
        finally:
            sent.set()  # also when nothing was asked: no one waits in vain

    async def best_hidden(self, node_id: str) -> list[str]:
        samples = await self.samples(node_id)
        weights = await self.weights(node_id)
        return [per_row[elbo.argmax(row_weights)] for per_row, row_weights in zip(samples, weights, strict=True)]

    async def _hidden_summary(self, node_id: str) -> HiddenInference:
        samples = await self.samples(node_id)
        weights = await self.weights(node_id)
        best = await self.best_hidden(node_id)
        entropies = [
            -sum(w * math.log(w) for w in row if w > 0) / math.log(len(row)) if len(row) > 1 else 0.0
            for row in weights
        ]
        return HiddenInference(
            node=node_id,
            mean_samples=sum(map(len, samples)) / len(samples),
            changed=sum(1 for row, text in enumerate(best) if text != self._current(node_id, row)),
            normalized_entropy=sum(entropies) / len(entropies),
        )

    # ------------------------------------------------------------------ prompt updates
    async def _update(self, node_id: str) -> NodeUpdate:
        if node_id in self.roles.scored:
            return await self._update_scored(node_id)
        return await self._update_hidden(node_id)

    async def _candidates(self, node_id: str, shown: list[Shown], base: str | None = None, round_: int = 0) -> list[Candidate]:
        """Proposals from `base` (the node's prompt by default) as candidates; a later round
        (`num_p1_steps`) draws with other seeds."""
        base = self.prompts[node_id] if base is None else base
        seed = derive_seed(self.seed, node_id, "proposal", *([round_] if round_ else []))
        node = self._lm(node_id)
        model_name = self.training.backward_model or node.model
        model = self.models[model_name]
        proposals = await propose_prompts(
            model=model,
            count_tokens=model.count_tokens,
            context_window=model.context_window,
            template=get_template(node.proposal_template),
            prompt=base,
            shown=shown,
            settings=ProposalSettings(
                count=max(self.training.num_p_samples - 1, 0),
                temperature=self._backward_temperature(model_name),
                max_tokens=self.training.proposal_max_tokens,
                seed=seed,
            ),
            rng=self.rng,
            node=node_id,
        )
        self.dropped_proposals[node_id] = sum(1 for proposal in proposals if not proposal)
        return self._as_candidates(node_id, [proposal for proposal in proposals if proposal], base)

    def _as_candidates(self, node_id: str, proposals: list[str], base: str | None = None) -> list[Candidate]:
        """`base` (the current prompt by default), `proposals` and the remembered prompts, each
        once, with its origin. With no proposals: the candidates known before any is written,
        scored meanwhile."""
        base = self.prompts[node_id] if base is None else base
        memory = self.settings.memory.get(node_id, [])
        prompts = unique_candidates(base, proposals, memory)
        origin = {prompt: "memory" for prompt in memory} | {prompt: "proposal" for prompt in proposals}
        origin[base] = "current"
        return [Candidate(prompt=prompt, origin=origin[prompt]) for prompt in prompts]  # type: ignore[arg-type]

    async def _propose_and_rank(
        self, node_id: str, propose: Callable[[], Awaitable[list[Candidate]]], rank: Callable[[list[Candidate]], Awaitable[R]],
        base: str | None = None,
    ) -> tuple[list[Candidate], R]:
        """The candidates and their ranking terms. The known candidates (no proposals) are
        ranked while the proposals are written; asking again with them is free, since every
        term is memoised for the step."""

        async def propose_then_rank() -> tuple[list[Candidate], R]:
            candidates = await propose()
            return candidates, await rank(candidates)

        (candidates, ranked), _ = await gather([propose_then_rank(), rank(self._as_candidates(node_id, [], base))])
        return candidates, ranked

    async def _update_scored(self, node_id: str) -> NodeUpdate:
        await self.forward_done()
        node = self._lm(node_id)
        examples = [self.batch[i] for i in self.kept]
        own = [self._own_output(node_id, example) for example in self.kept]
        shown = [
            Shown(
                input=reads(node, self._texts(node_id, row)),
                output=own[row].label or own[row].text,
                target=examples[row].target,
                correct=example_loss(own[row].label or own[row].text, examples[row], loss_of(self.training)) == 0,
            )
            for row in self.shown_rows
        ]
        method = self._method(node_id)
        candidates, (elbos, at_forward) = await self._propose_and_rank(
            node_id,
            lambda: self._candidates(node_id, shown),
            lambda candidates: self._scored_terms(node_id, candidates, examples, method),
        )
        penalties = self._trust_penalties(node, at_forward)
        return self._choose(node_id, "scored", method, candidates, elbos, penalties)

    async def _scored_terms(
        self, node_id: str, candidates: list[Candidate], examples: list[LabeledExample], method: str
    ) -> tuple[list[float], list[list[Likelihood]]]:
        """Each candidate's ELBO, and the likelihoods at the forward hidden states (for the
        trust region)."""
        parents = self.roles.hidden_parents(node_id)
        if not parents:
            table = await gather(
                gather(self._likelihood(node_id, self._render(node_id, c.prompt, row), examples[row], "score", method) for c in candidates)
                for row in self.ranking_rows
            )
            return elbo.mean_over_examples([[cell.value for cell in per_row] for per_row in table]), table
        per_parent = await gather(self._scored_elbo(node_id, parent, candidates, examples, method) for parent in parents)
        elbos = [sum(values) / len(values) for values in zip(*(result[0] for result in per_parent))]
        return elbos, per_parent[0][1]

    async def _scored_elbo(
        self, node_id: str, parent: str, candidates: list[Candidate], examples: list[LabeledExample], method: str
    ) -> tuple[list[float], list[list[Likelihood]]]:
        """ELBO term of each candidate: mean_i sum_j w_ij log p(y_i | r(h~_ij, x_i), candidate).

        Asked for once the parent's sharpening has been sent: its terms (the current
        candidate's, shared) are on the critical path, and these queue behind them."""
        samples, weights = await self._ranking_samples(parent)
        rows = self.ranking_rows

        async def cell(row: int, j: int, candidate: Candidate) -> Likelihood:
            rendered = self._render(node_id, candidate.prompt, row, {parent: samples[row][j]})
            return await self._likelihood(node_id, rendered, examples[row], "score", method)

        scores = await _grid(cell, rows, samples, candidates)
        weights = weights or await self.weights(parent)
        values = [[[c.value for c in per_j] for per_j in per_row] for per_row in scores]
        elbos = elbo.weighted_elbo(values, [weights[row] for row in rows])
        at_forward = [per_row[0] for per_row in scores]  # sample 0 is the forward hidden state
        return elbos, at_forward

    def _trust_penalties(self, node: LMNode, at_forward: list[list[Likelihood]]) -> list[float]:
        if self.training.trust_factor <= 0 or not node.classes:
            return [0.0] * len(at_forward[0])
        distributions = [[cell.distribution or {} for cell in per_row] for per_row in at_forward]
        return [self.training.trust_factor * kl for kl in elbo.trust_penalties(distributions)]

    async def _update_hidden(self, node_id: str) -> NodeUpdate:
        """`num_p1_steps` rounds of proposals and ranking, each from the last round's best
        prompt (the paper's loop over `num_p1_steps`); the last round is the update."""
        base = self.prompts[node_id]
        for round_ in range(self.training.num_p1_steps):
            update = await self._hidden_round(node_id, base, round_)
            base = update.prompt
        return update

    async def _hidden_round(self, node_id: str, base: str, round_: int) -> NodeUpdate:
        candidates, (scores, elbos) = await self._propose_and_rank(
            node_id,
            lambda: self._hidden_candidates(node_id, base, round_),
            lambda candidates: self._hidden_terms(node_id, candidates),
            base,
        )
        penalties = self._logp_penalties(scores, self.ranking_rows, len(candidates))
        return self._choose(node_id, "hidden", "logprobs", candidates, elbos, penalties)

    async def _hidden_candidates(self, node_id: str, base: str, round_: int) -> list[Candidate]:
        """Proposals shown the best hidden states h* as the targets to aim for."""
        node = self._lm(node_id)
        best = await self.best_hidden(node_id)
        shown = [
            Shown(
                input=reads(node, self._texts(node_id, row)),
                output=self._current(node_id, row),
                target=best[row],
                correct=self.losses[row] == 0,
            )
            for row in self.shown_rows
        ]
        return await self._candidates(node_id, shown, base, round_)

    async def _hidden_terms(
        self, node_id: str, candidates: list[Candidate]
    ) -> tuple[list[list[list[float]]], list[float]]:
        """log p(h~_ij | x_i, candidate) for every posterior sample, and each candidate's ELBO
        (those log-probabilities weighted by the sharpening weights). Asked for once this
        node's sharpening has been sent, as in `_scored_elbo`."""
        samples, weights = await self._ranking_samples(node_id)
        rows = self.ranking_rows
        rendered = {(row, c.prompt): self._render(node_id, c.prompt, row) for row in rows for c in candidates}

        async def cell(row: int, j: int, candidate: Candidate) -> float:
            return (await self._likelihood(node_id, rendered[row, candidate.prompt], samples[row][j], "score")).value

        scores = await _grid(cell, rows, samples, candidates)
        weights = weights or await self.weights(node_id)
        objective = elbo.nce_elbo if self.training.use_nce else elbo.weighted_elbo
        return scores, objective(scores, [weights[row] for row in rows])

    async def _ranking_samples(self, node_id: str) -> tuple[list[list[str]], list[list[float]] | None]:
        """The hidden states of `node_id` candidates are ranked on, per row, sample 0 (the
        forward state) first. With `use_h_argmax`, only the forward state and h*, which has all
        the weight (the forward state stays for the trust-region and logp penalties); the
        weights are then returned too. Otherwise every sample, asked for once the sharpening
        has been sent (see `sharpening_sent`): the weights come later."""
        samples = await self.samples(node_id)
        if not self.training.use_h_argmax:
            await self.sharpening_sent(node_id)
            return samples, None
        return _argmax_only(samples, await self.weights(node_id))

    def _logp_penalties(self, scores: list[list[list[float]]], rows: list[int], count: int) -> list[float]:
        """Penalise candidates that still find the forward (wrong) hidden states likely:
        logp_penalty * mean over error examples of log p(h_i | x_i, candidate), decayed."""
        strength = elbo.decayed(self.training.logp_penalty, self.settings.iteration,
                                self.training.iterations, self.training.decay_logp_penalty)
        errors = [index for index, row in enumerate(rows) if self.losses[row] > 0]
        if strength <= 0 or not errors:
            return [0.0] * count
        return [strength * sum(scores[index][0][k] for index in errors) / len(errors) for k in range(count)]

    def _choose(self, node_id, role, method, candidates, elbos, penalties) -> NodeUpdate:
        for candidate, value, penalty in zip(candidates, elbos, penalties, strict=True):
            candidate.elbo, candidate.penalty, candidate.score = value, penalty, value - penalty
        chosen = elbo.argmax([candidate.score for candidate in candidates])
        return NodeUpdate(node=node_id, role=role, method=method, candidates=candidates, chosen=chosen,
                          dropped_proposals=self.dropped_proposals.get(node_id, 0))

    # ------------------------------------------------------------------ helpers
    async def _likelihood(self, node_id: str, rendered: str, target: Target, phase: str, method: str = "logprobs") -> Likelihood:
        """Each distinct term is requested once per step: the current prompt's scores on the
        posterior samples are the sharpening terms, asked for again by the ranking; and a
        class distribution the forward pass already has (the current prompts on the forward
        hidden states) is not asked for again."""
        node = self._lm(node_id)
        known = self.forward_run.distribution_for(node_id, rendered) if method == "logprobs" else None
        if known is not None:
            return class_likelihood(node, known, target_text(target))
        key = _term_key(node_id, rendered, target, method, by_example=not is_builtin(self.training.loss))
        return await self.once.get(key, lambda: likelihood(
            self.network, self.models, node, rendered, target,
            method=method, phase=phase, loss=loss_of(self.training),
            burn_in_ratio=self.training.burn_in_ratio))

    def _method(self, node_id: str) -> ScoringMethod:
        """How a node's likelihood terms are scored, the same for sharpening and ranking (so
        that they share terms): a scored node as `output_scoring` asks, if its model can."""
        if node_id not in self.roles.scored:
            return "logprobs"
        return scoring_method(self.models, self._lm(node_id), self.training.output_scoring)

    def _echo(self, node_id: str) -> bool:
        return self.models[self._lm(node_id).model].capabilities.echo_scoring

    def _backward_model(self, node_id: str) -> str:
        return self.training.backward_model or self._lm(node_id).model

    def _backward_temperature(self, model_name: str) -> float:
        return self.network.spec.models[model_name].sampling.temperature


async def _grid(
    cell: Callable[[int, int, Candidate], Awaitable[T]],
    rows: list[int],
    samples: list[list[str]],
    candidates: list[Candidate],
) -> list[list[list[T]]]:
    """`cell(row, j, candidate)` for every ranking row, posterior sample j and candidate,
    indexed [row][j][candidate]. One flat set of tasks rather than a task group per row and
    sample: the grid is most of a step's calls, and task groups cost CPU on the event loop."""
    shape = [(row, len(samples[row])) for row in rows]
    flat = await gather(cell(row, j, candidate) for row, count in shape for j in range(count) for candidate in candidates)
    grid, start, width = [], 0, len(candidates)
    for _, count in shape:
        grid.append([flat[start + j * width:start + (j + 1) * width] for j in range(count)])
        start += count * width
    return grid


def _term_key(node_id: str, rendered: str, target: Target, method: str, *, by_example: bool) -> tuple[object, ...]:
    """A likelihood term's memo key. Log-probabilities and built-in losses depend on the
    target's text alone, so equal texts share a term. Under a Python metric (`by_example`),
    an accuracy is the metric on the whole example, which may read its input or id, so
    examples are told apart, by identity: the batch holds each of them for the step's life."""
    if by_example and method == "accuracy" and not isinstance(target, str):
        return ("accuracy", node_id, rendered, id(target))
    return ("likelihood", node_id, rendered, target_text(target), method)


def _argmax_only(samples: list[list[str]], weights: list[list[float]]) -> tuple[list[list[str]], list[list[float]]]:
    """Per row, the forward state and the best sample h*, with all the weight on h*
    (`use_h_argmax`): candidates are ranked on h* alone."""
    kept_samples, kept_weights = [], []
    for per_row, row_weights in zip(samples, weights, strict=True):
        best = elbo.argmax(row_weights)
        if best == 0:
            kept_samples.append(per_row[:1])
            kept_weights.append([1.0])
        else:
            kept_samples.append([per_row[0], per_row[best]])
            kept_weights.append([0.0, 1.0])
    return kept_samples, kept_weights


def _kept(value: T | None) -> T:
    """A per-example value of a kept example: it exists, since the whole forward pass
    succeeded on that example."""
    assert value is not None, "a kept example lacks a value computed for every example that succeeded"
    return value
