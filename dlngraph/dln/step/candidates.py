"""Prompt proposals as candidates (stage 5 of docs/TRAINING.md): the current prompt, the
proposals (`dln/proposals.py` writes them) and the remembered prompts, each once, with its
origin and the current demonstrations; the current prompt with each candidate set of
demonstrations (`step/demonstrations.py`); and the known candidates ranked while the proposals
are written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from dlngraph.dln.proposals import ProposalSettings, Shown, propose_prompts, unique_candidates
from dlngraph.dln.run_format import Candidate
from dlngraph.dln.seeds import derive_seed
from dlngraph.dln.step.demonstrations import Demonstrations
from dlngraph.dln.step.state import StepState
from dlngraph.engine import gather
from dlngraph.spec.nodes import Demonstration
from dlngraph.spec.templates import get_template

R = TypeVar("R")
Proposed = Callable[[list[Candidate]], Awaitable[object]]
"""Called with the candidates of each proposal as soon as it is written."""


class Candidates:
    def __init__(self, state: StepState, demonstrations: Demonstrations) -> None:
        self.state = state
        self.demonstrations = demonstrations
        self.dropped: dict[str, int] = {}
        """Per node, the proposals that were empty once cleaned."""

    async def proposed(
        self, node_id: str, shown: list[Shown], base: str | None = None, round_: int = 0,
        written: Proposed | None = None, showing: list[Demonstration] | None = None,
    ) -> list[Candidate]:
        """Proposals from `base` (the node's prompt by default) as candidates, each showing
        `showing` (the current demonstrations by default); a later round (`num_p1_steps`) draws
        with other seeds. `written` is awaited with the candidates a proposal makes as soon as
        it is written (see `propose_and_rank`)."""
        state = self.state
        base = state.prompts[node_id] if base is None else base
        seed = derive_seed(state.seed, node_id, "proposal", *([round_] if round_ else []))
        node = state.lm(node_id)
        model_name = state.backward_model(node_id)
        model = state.models[model_name]
        proposals = await propose_prompts(
            model=model,
            count_tokens=model.count_tokens,
            context_window=model.context_window,
            template=get_template(node.proposal_template),
            prompt=base,
            shown=shown,
            settings=ProposalSettings(
                count=max(state.training.num_p_samples - 1, 0),
                temperature=state.backward_temperature(model_name),
                max_tokens=state.training.proposal_max_tokens,
                seed=seed,
            ),
            rng=state.rng,
            node=node_id,
            written=None if written is None else lambda proposal: written(self.of(node_id, [proposal], base, showing)),
        )
        self.dropped[node_id] = sum(1 for proposal in proposals if not proposal)
        return self.of(node_id, [proposal for proposal in proposals if proposal], base, showing)

    def of(
        self, node_id: str, proposals: list[str], base: str | None = None, showing: list[Demonstration] | None = None,
    ) -> list[Candidate]:
        """`base` (the current prompt by default), `proposals` and the remembered prompts, each
        once, with its origin, all showing `showing` (the current demonstrations by default);
        then `base` with each candidate set of demonstrations. With no proposals: the candidates
        known before any is written, scored meanwhile."""
        base = self.state.prompts[node_id] if base is None else base
        shown = self.demonstrations.current(node_id) if showing is None else showing
        memory = self.state.settings.memory.get(node_id, [])
        prompts = unique_candidates(base, proposals, memory)
        origin = {prompt: "memory" for prompt in memory} | {prompt: "proposal" for prompt in proposals}
        origin[base] = "current"
        return [
            *(Candidate(prompt=prompt, origin=origin[prompt], demonstrations=shown) for prompt in prompts),  # type: ignore[arg-type]
            *(Candidate(prompt=base, origin="demonstrations", demonstrations=drawn)
              for drawn in self.demonstrations.sets(node_id) if drawn != shown),
        ]

    async def propose_and_rank(
        self, node_id: str, propose: Callable[[Proposed], Awaitable[list[Candidate]]],
        rank: Callable[[list[Candidate]], Awaitable[R]], base: str | None = None,
        showing: list[Demonstration] | None = None,
    ) -> tuple[list[Candidate], R]:
        """The candidates and their ranking terms. The known candidates (no proposals) are
        ranked while the proposals are written, and each proposal from the moment it is
        written (`propose` passes it to the callback it is given), not once the slowest is
        back; ranking all of them at the end is then free, since every term is memoised for
        the step."""

        async def propose_then_rank() -> tuple[list[Candidate], R]:
            candidates = await propose(rank)
            return candidates, await rank(candidates)

        (candidates, ranked), _ = await gather([propose_then_rank(), rank(self.of(node_id, [], base, showing))])
        return candidates, ranked
