"""The rows of the report's tables, as data: what each table says, apart from how it is shown.

- `prompt_history`: every node's prompt (and demonstrations) after every step, with the score
  that made it win;
- `top_candidates`: the best-scored candidates of one node's update;
- `usage_rows`: the calls and tokens of each node, phase or model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dlngraph.dln.run_format import Candidate, Counts, Demonstrations, IterationRecord, NodeUpdate, Shortlisted
from dlngraph.report.runlog import RunLog
from dlngraph.report.usage import COUNTERS, tokens
from dlngraph.spec.nodes import Demonstration


class PromptCell(NamedTuple):
    """One node's prompt at one point of training."""

    prompt: str
    score: float | None
    """The score of the chosen candidate (None at the start, or for a node not trained)."""
    origin: str | None
    """Where the chosen candidate came from: `current`, `proposal` or `memory`."""
    changed: bool
    """Whether the prompt or its demonstrations differ from the row before."""
    demonstrations: Sequence[Demonstration] = ()
    """Shown with the prompt (none at a node that shows none)."""


class PromptRow(NamedTuple):
    label: str
    """'start' for the spec's prompts, else the number of steps done."""
    dev_accuracy: float | None
    cells: dict[str, PromptCell]


def prompt_history(run: RunLog) -> list[PromptRow]:
    """The prompts before training, then after each logged step."""
    previous, shown = run.initial_prompts, run.initial_demonstrations
    initial_dev = run.initial_dev_accuracy
    start = {node: PromptCell(prompt, score=None, origin=None, changed=False, demonstrations=shown.get(node, []))
             for node, prompt in previous.items()}
    rows = [PromptRow("start", initial_dev, start)]
    for iteration in run.iterations:
        cells = {}
        for node, prompt in iteration.prompts.items():
            chosen = _kept(iteration, node)
            demonstrations = _demonstrations_after(iteration.demonstrations, shown, node)
            cells[node] = PromptCell(
                prompt=prompt,
                score=chosen.score if chosen else None,
                origin=chosen.origin if chosen else None,
                changed=node in previous and (previous[node], list(shown.get(node, []))) != (prompt, demonstrations),
                demonstrations=demonstrations,
            )
        rows.append(PromptRow(str(iteration.steps_done), iteration.dev_accuracy, cells))
        previous, shown = iteration.prompts, {node: list(cell.demonstrations) for node, cell in cells.items()}
    return rows


def _demonstrations_after(logged: Demonstrations, before: Demonstrations, node: str) -> list[Demonstration]:
    """A node's demonstrations after a step: as logged, else as before it (a version 1 line
    logs none, and its run showed what the spec gave)."""
    return logged[node] if node in logged else before.get(node, [])


class RankedCandidate(NamedTuple):
    rank: int
    """1 for the best score."""
    candidate: Candidate
    chosen: bool
    """The step's choice, on the batch."""
    dev_accuracy: float | None = None
    """When the network with this candidate (the other nodes at their choice) was validated
    on dev with the step's shortlist (`validate_top`)."""
    kept: bool = False
    """Whether training went on from that network: the shortlist's best on dev."""


def top_candidates(update: NodeUpdate, k: int, shortlist: Sequence[Shortlisted] = ()) -> list[RankedCandidate]:
    """The `k` best candidates by score, best first (the chosen one is normally rank 1), with
    the dev accuracy of those the step's `shortlist` validated."""
    validated = _validated_by_candidate(update, shortlist)
    ranked = sorted(enumerate(update.candidates), key=lambda pair: pair[1].score, reverse=True)
    return [RankedCandidate(rank, candidate, index == update.chosen, *validated.get(index, (None, False)))
            for rank, (index, candidate) in enumerate(ranked[:k], start=1)]


def _validated_by_candidate(update: NodeUpdate, shortlist: Sequence[Shortlisted]) -> dict[int, tuple[float, bool]]:
    """A node's candidates whose network was validated: the shortlisted networks where this node
    has that candidate and every other node its choice (as `dln/shortlist.py` builds them)."""
    choice = next((entry.choices for entry in shortlist), {})
    return {entry.choices[update.node]: (entry.dev_accuracy, entry.kept) for entry in shortlist
            if update.node in entry.choices
            and all(index == choice[node] for node, index in entry.choices.items() if node != update.node)}


class UsageRow(NamedTuple):
    name: str
    counts: dict[str, float]
    """Each of `COUNTERS`, plus `tokens` (prompt + completion)."""


def usage_rows(groups: dict[str, Counts]) -> list[UsageRow]:
    """One row per group (node, phase or model), the costliest in tokens first."""
    rows = [
        UsageRow(name, {**{key: getattr(counts, key) for key in COUNTERS}, "tokens": tokens(counts)})
        for name, counts in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row.counts["tokens"], row.name))


def _kept(iteration: IterationRecord, node: str) -> Candidate | None:
    """The candidate a node's prompt after the step came from: the step's choice, or, when the
    step's shortlist was validated, the candidate of the network kept (none when that is the
    network before the step)."""
    update = iteration.updates.get(node)
    if update is None:
        return None
    kept = next((entry for entry in iteration.shortlist if entry.kept), None)
    index = update.chosen if kept is None else kept.choices.get(node)
    return None if index is None or not 0 <= index < len(update.candidates) else update.candidates[index]
