"""Which networks of a step go to dev: the step's choice and its runners-up (`validate_top`).

A step ranks its candidates on a batch of a few examples. That ranking is too noisy to pick
one network by itself: off the demo's task, a step's choice lowers dev accuracy as often as it
raises it, whatever its lead on the batch (benchmarks/RESULTS.md, "Does the batch ranking
foretell dev?"). Dev, with its 100 or more examples, is the better judge, so the trainer can
validate the batch's best few networks and go on from the one dev prefers; the paired test
(`dln/selection.py`) still decides whether it replaces the best so far. The network before the
step competes too when dev has scored it (the trainer adds it: it costs no call), so training
never goes on from a network dev rates below where the step began. This is DSPy's random
search over candidate programs, with the batch ranking as the filter that keeps it cheap.

A shortlisted network is each trained node's candidate (an index into its `NodeUpdate`): the
step's choice first, then, rank by rank, one node's next-best candidate with every other node
at its choice. For one trained node, that is its `size` best candidates.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlngraph.dln.run_format import Demonstrations, NodeUpdate, prompt_key

Choices = dict[str, int]
"""One network of the step: each trained node's candidate, by its index in `NodeUpdate.candidates`."""

Network = tuple[dict[str, str], Demonstrations]
"""A network's prompts and demonstrations, as the trainer's state holds them."""


def shortlist(
    updates: Mapping[str, NodeUpdate], size: int, prompts: Mapping[str, str], demonstrations: Demonstrations,
) -> dict[str, tuple[Choices, Network]]:
    """Up to `size` distinct networks of a step, by their `prompt_key` (a proposal may repeat the
    current prompt, a demonstration set the current one), the step's choice first, best-ranked
    next; `prompts` and `demonstrations` are the network's before the step."""
    choice = {node: update.chosen for node, update in updates.items()}
    found: dict[str, tuple[Choices, Network]] = {}

    def add(choices: Choices) -> None:
        network = network_of(updates, choices, prompts, demonstrations)
        found.setdefault(prompt_key(*network), (choices, network))

    add(choice)
    runners_up = {node: _ranked(update)[1:] for node, update in updates.items()}
    for rank in range(max((len(ranked) for ranked in runners_up.values()), default=0)):
        for node, ranked in runners_up.items():
            if len(found) >= size:
                return found
            if rank < len(ranked):
                add({**choice, node: ranked[rank]})
    return found


def network_of(
    updates: Mapping[str, NodeUpdate], choices: Choices, prompts: Mapping[str, str], demonstrations: Demonstrations,
) -> Network:
    """The prompts and demonstrations of a shortlisted network: those before the step
    (`prompts`, `demonstrations`) with each trained node's chosen candidate in its place.
    Only the nodes that show demonstrations (those of `demonstrations`) get the candidate's."""
    new_prompts, new_demonstrations = dict(prompts), dict(demonstrations)
    for node, index in choices.items():
        candidate = updates[node].candidates[index]
        new_prompts[node] = candidate.prompt
        if node in new_demonstrations:
            new_demonstrations[node] = candidate.demonstrations
    return new_prompts, new_demonstrations


def _ranked(update: NodeUpdate) -> list[int]:
    """A node's candidates by score, best first (ties in their order), the choice first."""
    order = sorted(range(len(update.candidates)), key=lambda index: -update.candidates[index].score)
    return [update.chosen] + [index for index in order if index != update.chosen]
