"""Ranking the candidates (stage 6 of docs/TRAINING.md): the grids of likelihood terms, the
ELBO of each candidate per role (scored or hidden node), the trust-region and logp penalties,
and the choice.

The grids are indexed [ranked example][sample j][candidate], the ranked examples in the order
of `SettledForward.ranked`; sample 0 is always the forward hidden state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, TypeVar

from dlngraph.dln import elbo
from dlngraph.dln.phases import Phase
from dlngraph.dln.postprocess import example_loss, loss_of
from dlngraph.dln.proposals import Shown
from dlngraph.dln.run_format import Candidate, NodeUpdate
from dlngraph.dln.scoring import Likelihood, ScoringMethod, Target
from dlngraph.dln.step.batch import ExampleIndex, SettledForward
from dlngraph.dln.step.candidates import Candidates, Proposed
from dlngraph.dln.step.needs import Needs
from dlngraph.dln.step.samples import Samples
from dlngraph.dln.step.sharpening import Sharpening
from dlngraph.dln.step.state import StepState
from dlngraph.dln.step.waits import Quantity
from dlngraph.dln.texts import reads
from dlngraph.engine import gather
from dlngraph.spec.nodes import Demonstration, LMNode

T = TypeVar("T")


class Ranking:
    def __init__(
        self, state: StepState, needs: Needs, samples: Samples, sharpening: Sharpening, candidates: Candidates
    ) -> None:
        self.state = state
        self.needs = needs
        self.samples = samples
        self.sharpening = sharpening
        self.candidates = candidates

    async def update(self, node_id: str) -> NodeUpdate:
        if node_id in self.state.roles.scored:
            return await self._update_scored(node_id)
        return await self._update_hidden(node_id)

    # ------------------------------------------------------------------ scored nodes
    async def _update_scored(self, node_id: str) -> NodeUpdate:
        state = self.state
        await self.needs.wait_for(state.waits.of(Quantity.PROPOSALS, node_id).needs)
        settled = await state.forward_done()
        node = state.lm(node_id)
        shown = []
        for example in settled.shown:
            own = state.views.own_output(node_id, example)
            output = own.label or own.text
            shown.append(Shown(
                input=reads(node, state.views.texts(node_id, example)),
                output=output,
                target=state.batch[example].target,
                correct=example_loss(output, state.batch[example], loss_of(state.training)) == 0,
            ))
        method = state.terms.method(node_id)
        candidates, (elbos, at_forward) = await self.candidates.propose_and_rank(
            node_id,
            lambda written: self.candidates.proposed(node_id, shown, written=written),
            lambda candidates: self._scored_terms(node_id, candidates, method),
        )
        penalties = self._trust_penalties(node, at_forward)
        return self._choose(node_id, "scored", method, candidates, elbos, penalties)

    async def _scored_terms(
        self, node_id: str, candidates: list[Candidate], method: str
    ) -> tuple[list[float], list[list[Likelihood]]]:
        """Each candidate's ELBO (averaged over the hidden parents), and the likelihoods at
        the forward hidden states, [ranked example][candidate] (for the trust region)."""
        state = self.state
        parents = state.roles.hidden_parents(node_id)
        ranked = (await state.forward_done()).ranked
        if not parents:
            table = await gather(
                gather(self._likelihood(node_id, c, example, state.batch[example], method) for c in candidates)
                for example in ranked
            )
            return elbo.mean_over_examples([[cell.value for cell in per_example] for per_example in table]), table
        per_parent = await gather(self._scored_elbo(node_id, parent, candidates, method) for parent in parents)
        elbos = [sum(values) / len(values) for values in zip(*(result[0] for result in per_parent), strict=True)]
        # Sample 0 is the forward state in every parent's grid, and the other parents are held
        # at their forward states: each parent's sample-0 column renders the same text, so the
        # first parent's likelihoods at the forward states are every parent's.
        return elbos, per_parent[0][1]

    async def _scored_elbo(
        self, node_id: str, parent: str, candidates: list[Candidate], method: str
    ) -> tuple[list[float], list[list[Likelihood]]]:
        """ELBO term of each candidate: mean_i sum_j w_ij log p(y_i | r(h~_ij, x_i), candidate).

        Asked for once the parent's sharpening has been sent: its terms (the current
        candidate's, shared) are on the critical path, and these queue behind them."""
        state = self.state
        settled = await state.forward_done()
        samples, weights = await self._ranking_samples(parent)

        async def cell(example: ExampleIndex, j: int, candidate: Candidate) -> Likelihood:
            return await self._likelihood(node_id, candidate, example, state.batch[example], method, {parent: samples[example][j]})

        scores = await _grid(cell, settled.ranked, samples, candidates)
        weights = weights or await self._weights_by_example(parent)
        values = [[[c.value for c in per_j] for per_j in per_example] for per_example in scores]
        elbos = elbo.weighted_elbo(values, [weights[example] for example in settled.ranked])
        at_forward = [per_example[0] for per_example in scores]  # sample 0 is the forward hidden state
        return elbos, at_forward

    def _trust_penalties(self, node: LMNode, at_forward: list[list[Likelihood]]) -> list[float]:
        trust_factor = self.state.training.trust_factor
        if trust_factor <= 0 or not node.classes:
            return [0.0] * len(at_forward[0])
        distributions = [[cell.distribution or {} for cell in per_example] for per_example in at_forward]
        return [trust_factor * kl for kl in elbo.trust_penalties(distributions)]

    # ------------------------------------------------------------------ hidden nodes
    async def _update_hidden(self, node_id: str) -> NodeUpdate:
        """`num_p1_steps` rounds of proposals and ranking, each from the last round's best
        prompt and demonstrations (the paper's loop over `num_p1_steps`); the last round is the
        update."""
        base, showing = self.state.prompts[node_id], list(self.state.demonstrations.get(node_id, []))
        for round_ in range(self.state.training.num_p1_steps):
            update = await self._hidden_round(node_id, base, showing, round_)
            base, showing = update.prompt, update.demonstrations
        return update

    async def _hidden_round(self, node_id: str, base: str, showing: list[Demonstration], round_: int) -> NodeUpdate:
        candidates, (scores, elbos) = await self.candidates.propose_and_rank(
            node_id,
            lambda written: self._hidden_candidates(node_id, base, showing, round_, written),
            lambda candidates: self._hidden_terms(node_id, candidates),
            base,
            showing,
        )
        penalties = self._logp_penalties(scores, await self.state.forward_done(), len(candidates))
        return self._choose(node_id, "hidden", "logprobs", candidates, elbos, penalties)

    async def _hidden_candidates(
        self, node_id: str, base: str, showing: list[Demonstration], round_: int, written: Proposed
    ) -> list[Candidate]:
        """Proposals shown the best hidden states h* as the targets to aim for."""
        state = self.state
        await self.needs.wait_for(state.waits.of(Quantity.PROPOSALS, node_id).needs)
        node = state.lm(node_id)
        settled = await state.forward_done()
        best = dict(zip(settled.kept, await self.sharpening.best_hidden(node_id), strict=True))
        shown = [
            Shown(
                input=reads(node, state.views.texts(node_id, example)),
                output=state.views.current(node_id, example),
                target=best[example],
                correct=settled.losses[example] == 0,
            )
            for example in settled.shown
        ]
        return await self.candidates.proposed(node_id, shown, base, round_, written, showing)

    async def _hidden_terms(
        self, node_id: str, candidates: list[Candidate]
    ) -> tuple[list[list[list[float]]], list[float]]:
        """log p(h~_ij | x_i, candidate) for every posterior sample, and each candidate's ELBO
        (those log-probabilities weighted by the sharpening weights). Asked for once this
        node's sharpening has been sent, as in `_scored_elbo`."""
        state = self.state
        ranked = (await state.forward_done()).ranked
        samples, weights = await self._ranking_samples(node_id)
        rendered = {(example, id(c)): state.views.render(node_id, c.prompt, example, None, c.demonstrations)
                    for example in ranked for c in candidates if not c.demonstrations}

        async def cell(example: ExampleIndex, j: int, candidate: Candidate) -> float:
            if candidate.demonstrations:  # rendered again with fewer if they do not fit the context window
                return (await self._likelihood(node_id, candidate, example, samples[example][j])).value
            return (await state.terms.likelihood(node_id, rendered[example, id(candidate)], samples[example][j], Phase.SCORE)).value

        scores = await _grid(cell, ranked, samples, candidates)
        weights = weights or await self._weights_by_example(node_id)
        objective = elbo.nce_elbo if state.training.use_nce else elbo.weighted_elbo
        return scores, objective(scores, [weights[example] for example in ranked])

    def _logp_penalties(self, scores: list[list[list[float]]], settled: SettledForward, count: int) -> list[float]:
        """Penalise candidates that still find the forward (wrong) hidden states likely:
        logp_penalty * mean over error examples of log p(h_i | x_i, candidate), decayed."""
        training = self.state.training
        strength = elbo.decayed(training.logp_penalty, self.state.settings.iteration,
                                training.iterations, training.decay_logp_penalty)
        errors = [position for position, example in enumerate(settled.ranked) if settled.losses[example] > 0]
        if strength <= 0 or not errors:
            return [0.0] * count
        return [strength * sum(scores[position][0][k] for position in errors) / len(errors) for k in range(count)]

    # ------------------------------------------------------------------ both
    async def _likelihood(
        self, node_id: str, candidate: Candidate, example: ExampleIndex, target: Target,
        method: ScoringMethod = "logprobs", overrides: Mapping[str, str] | None = None,
    ) -> Likelihood:
        """The candidate's likelihood of `target` on the example (some outputs replaced by
        `overrides`), showing as many of its demonstrations as fit the context window."""
        views = self.state.views
        return await self.state.terms.shown(
            node_id, lambda shown: views.render(node_id, candidate.prompt, example, overrides, shown),
            candidate.demonstrations, target, Phase.SCORE, method,
        )

    async def _ranking_samples(
        self, node_id: str
    ) -> tuple[dict[ExampleIndex, list[str]], dict[ExampleIndex, list[float]] | None]:
        """The hidden states of `node_id` candidates are ranked on, per kept example, sample 0
        (the forward state) first. With `use_h_argmax`, only the forward state and h*, which
        has all the weight (the forward state stays for the trust-region and logp penalties);
        the weights are then returned too. Otherwise every sample, asked for once the
        sharpening has been sent (see `Sharpening.sent`): the weights come later."""
        await self.needs.wait_for(self.state.waits.of(Quantity.RANKED_ON, node_id).needs)
        kept = (await self.state.forward_done()).kept
        samples = await self.samples.of(node_id)
        if not self.state.training.use_h_argmax:
            return dict(zip(kept, samples, strict=True)), None
        argmax_samples, argmax_weights = _argmax_only(samples, await self.sharpening.weights(node_id))
        return dict(zip(kept, argmax_samples, strict=True)), dict(zip(kept, argmax_weights, strict=True))

    async def _weights_by_example(self, node_id: str) -> dict[ExampleIndex, list[float]]:
        kept = (await self.state.forward_done()).kept
        return dict(zip(kept, await self.sharpening.weights(node_id), strict=True))

    def _choose(
        self, node_id: str, role: Literal["scored", "hidden"], method: str, candidates: list[Candidate],
        elbos: list[float], penalties: list[float],
    ) -> NodeUpdate:
        scores = elbo.candidate_scores(elbos, penalties)
        for candidate, value, penalty, score in zip(candidates, elbos, penalties, scores, strict=True):
            candidate.elbo, candidate.penalty, candidate.score = value, penalty, score
        return NodeUpdate(node=node_id, role=role, method=method, candidates=candidates, chosen=elbo.argmax(scores),
                          dropped_proposals=self.candidates.dropped.get(node_id, 0))

async def _grid(
    cell: Callable[[ExampleIndex, int, Candidate], Awaitable[T]],
    ranked: list[ExampleIndex],
    samples: dict[ExampleIndex, list[str]],
    candidates: list[Candidate],
) -> list[list[list[T]]]:
    """`cell(example, j, candidate)` for every ranked example, sample j and candidate,
    indexed [position in `ranked`][j][candidate]. One flat set of tasks rather than a task
    group per example and sample: the grid is most of a step's calls, and task groups cost CPU
    on the event loop."""
    shape = [(example, len(samples[example])) for example in ranked]
    flat = await gather(cell(example, j, candidate) for example, count in shape for j in range(count) for candidate in candidates)
    grid, start, width = [], 0, len(candidates)
    for _, count in shape:
        grid.append([flat[start + j * width:start + (j + 1) * width] for j in range(count)])
        start += count * width
    return grid


def _argmax_only(samples: list[list[str]], weights: list[list[float]]) -> tuple[list[list[str]], list[list[float]]]:
    """Per example, the forward state and the best sample h*, with all the weight on h*
    (`use_h_argmax`): candidates are ranked on h* alone."""
    kept_samples, kept_weights = [], []
    for per_example, example_weights in zip(samples, weights, strict=True):
        best = elbo.argmax(example_weights)
        if best == 0:
            kept_samples.append(per_example[:1])
            kept_weights.append([1.0])
        else:
            kept_samples.append([per_example[0], per_example[best]])
            kept_weights.append([0.0, 1.0])
    return kept_samples, kept_weights
