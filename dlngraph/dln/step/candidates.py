"""Prompt proposals as candidates (stage 5 of docs/TRAINING.md): the current prompt, the
proposals (`dln/proposals.py` writes them) and the remembered prompts, each once, with its
origin; and the known candidates ranked while the proposals are written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from dlngraph.dln.proposals import ProposalSettings, Shown, propose_prompts, unique_candidates
from dlngraph.dln.run_format import Candidate
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.step.base import StepBase
from dlngraph.engine import gather
from dlngraph.spec.templates import get_template

R = TypeVar("R")
Proposed = Callable[[list[Candidate]], Awaitable[object]]
"""Called with the candidates of each proposal as soon as it is written."""


class Candidates(StepBase):
    async def candidates(
        self, node_id: str, shown: list[Shown], base: str | None = None, round_: int = 0,
        written: Callable[[list[Candidate]], Awaitable[object]] | None = None,
    ) -> list[Candidate]:
        """Proposals from `base` (the node's prompt by default) as candidates; a later round
        (`num_p1_steps`) draws with other seeds. `written` is awaited with the candidates a
        proposal makes as soon as it is written (see `propose_and_rank`)."""
        base = self.prompts[node_id] if base is None else base
        seed = derive_seed(self.seed, node_id, "proposal", *([round_] if round_ else []))
        node = self._lm(node_id)
        model_name = self._backward_model(node_id)
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
            written=None if written is None else lambda proposal: written(self.as_candidates(node_id, [proposal], base)),
        )
        self.dropped_proposals[node_id] = sum(1 for proposal in proposals if not proposal)
        return self.as_candidates(node_id, [proposal for proposal in proposals if proposal], base)

    def as_candidates(self, node_id: str, proposals: list[str], base: str | None = None) -> list[Candidate]:
        """`base` (the current prompt by default), `proposals` and the remembered prompts, each
        once, with its origin. With no proposals: the candidates known before any is written,
        scored meanwhile."""
        base = self.prompts[node_id] if base is None else base
        memory = self.settings.memory.get(node_id, [])
        prompts = unique_candidates(base, proposals, memory)
        origin = {prompt: "memory" for prompt in memory} | {prompt: "proposal" for prompt in proposals}
        origin[base] = "current"
        return [Candidate(prompt=prompt, origin=origin[prompt]) for prompt in prompts]  # type: ignore[arg-type]

    async def propose_and_rank(
        self, node_id: str, propose: Callable[[Proposed], Awaitable[list[Candidate]]],
        rank: Callable[[list[Candidate]], Awaitable[R]], base: str | None = None,
    ) -> tuple[list[Candidate], R]:
        """The candidates and their ranking terms. The known candidates (no proposals) are
        ranked while the proposals are written, and each proposal from the moment it is
        written (`propose` passes it to the callback it is given), not once the slowest is
        back; ranking all of them at the end is then free, since every term is memoised for
        the step."""

        async def propose_then_rank() -> tuple[list[Candidate], R]:
            candidates = await propose(rank)
            return candidates, await rank(candidates)

        (candidates, ranked), _ = await gather([propose_then_rank(), rank(self.as_candidates(node_id, [], base))])
        return candidates, ranked
