"""How many LLM calls one training iteration makes, phase by phase, before making any.

A dry run prints this, the benchmark uses it for the throughput limit, and a user reads it to
budget a run. Counts are upper bounds: identical requests (duplicate posterior samples or
candidate prompts) are deduplicated or cached at run time. The rounds of latency are walked
from the step's own declaration of its waits (`dln/step/waits.py`), which the step awaits
through, so the plan cannot drift from what the step does.
"""

from __future__ import annotations

from typing import NamedTuple

from dlngraph.dln.demonstration_pool import sets_per_step
from dlngraph.dln.phases import Phase
from dlngraph.dln.roles import Roles
from dlngraph.dln.step.waits import PER_EXAMPLE, Need, Quantity, StepWaits
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.training import TrainingSpec

PHASES: tuple[Phase, ...] = tuple(phase for phase in Phase if phase not in (Phase.TEST, Phase.BACKWARD))
"""The phases an iteration makes calls in: the test pass comes once, after the last one, and
`backward` marks a moment of the step, not calls."""


def calls_per_iteration(network: CompiledNetwork, training: TrainingSpec, *, dev_size: int = 0) -> dict[Phase, int]:
    """Expected calls of one iteration per phase; `validation` counts one pass over dev
    (it happens every `val_freq` iterations)."""
    roles = Roles(network)
    batch = training.batch_size
    samples = training.num_h_samples + 1  # the forward hidden state is a sample too
    lm_nodes = [node for node in network.lm_nodes if node in network.required_by_output]
    calls = dict.fromkeys(PHASES, 0)
    calls[Phase.FORWARD] = batch * len(lm_nodes)
    calls[Phase.VALIDATION] = dev_size * len(lm_nodes)
    for node in roles.hidden:
        calls[Phase.POSTERIOR] += batch * training.num_h_samples
        prior = 1 if training.include_prior else 0
        consumers = len(roles.consumers(node)) * (2 if training.use_mi_regularization else 1)
        calls[Phase.SHARPENING] += batch * samples * (consumers + prior)
        calls[Phase.SHARPENING] += batch * training.num_h_samples if training.correct_weighting else 0
    for node in network.trainable:
        rounds = 1 if node in roles.scored else training.num_p1_steps  # a hidden node's rounds of proposals
        calls[Phase.PROPOSAL] += rounds * max(training.num_p_samples - 1, 0)
        candidates = training.num_p_samples + training.use_memory + demonstration_sets(network, node, training)
        calls[Phase.SCORE] += rounds * candidates * score_calls_per_candidate(roles, node, training)
    return calls


def demonstration_sets(network: CompiledNetwork, node: str, training: TrainingSpec) -> int:
    """Candidate sets of demonstrations a node ranks beside its prompts (none at a node that
    learns none)."""
    return sets_per_step(training) if network.num_demos(node) > 0 else 0


def score_calls_per_candidate(roles: Roles, node: str, training: TrainingSpec) -> int:
    """The cells of one candidate's row in the ranking grid: ranked examples x the hidden
    states it is ranked on (its own, or each hidden parent's; one per example with none)."""
    batch = training.batch_size
    ranked = batch // 2 if training.held_out_prompt_ranking and batch >= 2 else batch
    ranked_samples = 2 if training.use_h_argmax else training.num_h_samples + 1  # the forward state and h*
    if node in roles.hidden:
        return ranked * ranked_samples
    parents = len(roles.hidden_parents(node))
    return ranked * (ranked_samples * parents if parents else 1)


def validation_passes(training: TrainingSpec) -> int:
    """Dev passes of a whole run: the start's (`do_first_eval`), then every `val_freq`
    iterations and after the last, each of the `validate_top` networks of those steps."""
    start = 1 if training.do_first_eval else 0
    steps = max(1, -(-training.iterations // training.val_freq))  # val_freq >= 1 (spec/checks/ranges.py)
    return start + steps * training.validate_top


def calls_per_run(network: CompiledNetwork, training: TrainingSpec, *, dev_size: int = 0) -> int:
    """Expected calls of a whole run (an upper bound: the cache and deduplication save some)."""
    calls = calls_per_iteration(network, training, dev_size=dev_size)
    step = sum(count for phase, count in calls.items() if phase is not Phase.VALIDATION)
    return step * training.iterations + calls[Phase.VALIDATION] * validation_passes(training)


def dependency_depth(network: CompiledNetwork, training: TrainingSpec | None = None) -> int:
    """Rounds of latency one training step needs at best, following the step's own waits
    (`dlngraph.dln.step.waits`, which the step awaits through): a node's forward output
    arrives after as many rounds as there are lm nodes on the longest path to it from the
    input, and each quantity of the step one round after the last of its needs when it is the
    answer to calls it makes (posterior samples, the sharpening, proposals, scores), in the
    same round when it only gathers (every example's samples, the sharpening sent). A hidden
    node's later rounds of proposals and ranking (`num_p1_steps`) add two rounds each."""
    rounds = _StepRounds(network, training)
    return max((rounds.last((Quantity.UPDATED, node)) for node in network.trainable), default=rounds.whole_forward)


_HIDDEN_CALLS = (Quantity.SAMPLES, Quantity.SENT)
_TRAINABLE_CALLS = (Quantity.PROPOSALS, Quantity.KNOWN_SCORES, Quantity.SCORES)
"""The quantities that make calls: of every hidden node, and of every trainable one."""


def phase_start_rounds(network: CompiledNetwork, training: TrainingSpec | None = None) -> dict[tuple[str, Phase], int]:
    """The first round in which any call of each (node, phase) of a step can start, under the
    same waits as `dependency_depth`. Calls are tagged by the node they ask (a sharpening's
    consumer terms by the consumer), so a tag that several waits share gets the earliest.

    A step's calls cannot all go out at once: the staged limit of the benchmark counts, for
    each round r, the calls that cannot start before it.
    """
    rounds = _StepRounds(network, training)
    roles = rounds.waits.roles
    starts: dict[tuple[str, Phase], int] = {}

    def earliest(node: str, phase: Phase, start: int) -> None:
        starts[node, phase] = min(start, starts.get((node, phase), start))

    for node, start in forward_start_rounds(network).items():
        earliest(node, Phase.FORWARD, start)
    calling = [(q, node) for node in roles.hidden for q in _HIDDEN_CALLS]
    calling += [(q, node) for node in network.trainable for q in _TRAINABLE_CALLS]
    for quantity, node in calling:
        phase = rounds.waits.of(quantity, node).calls
        if phase is None:
            continue
        asked = (node, *roles.consumers(node)) if phase is Phase.SHARPENING else (node,)
        for tagged in asked:
            earliest(tagged, phase, rounds.calls_start((quantity, node)))
    return starts


class LaterStart(NamedTuple):
    """Where some calls of a (node, phase) can start only in a later round than its first."""

    round: int
    """The round the later calls can start in."""
    earlier_at_most: int
    """How many of the tag's calls can start before it, at most."""


def later_start_rounds(network: CompiledNetwork, training: TrainingSpec) -> dict[tuple[str, Phase], LaterStart]:
    """The tags of `phase_start_rounds` whose calls do not all start in its round: a trainable
    node's scores. Those of the candidates known before any proposal (the current prompt, the
    remembered ones, the sets of demonstrations) start in the tag's first round; those of the proposed candidates only once
    the proposals have come back (`Quantity.SCORES`), a round or more later. A throughput bound
    that counted them from the first round would count calls that do not exist yet."""
    rounds = _StepRounds(network, training)
    later = {}
    for node in network.trainable:
        known_candidates = 1 + training.use_memory + demonstration_sets(network, node, training)
        known = known_candidates * score_calls_per_candidate(rounds.waits.roles, node, training)
        start = rounds.calls_start((Quantity.SCORES, node))
        if start > rounds.calls_start((Quantity.KNOWN_SCORES, node)):
            later[node, Phase.SCORE] = LaterStart(round=start, earlier_at_most=known)
    return later


def forward_start_rounds(network: CompiledNetwork) -> dict[str, int]:
    """The round each lm node's forward calls can start in: after its lm ancestors' rounds."""
    return {node: rounds - 1 for node, rounds in _forward_rounds(network).items() if node in network.lm_nodes}


class _StepRounds:
    """The rounds (of latency) at which a step's quantities exist, walked from their waits:
    per quantity, the first example's round and the last one's (a quantity of the whole batch
    has one)."""

    def __init__(self, network: CompiledNetwork, training: TrainingSpec | None) -> None:
        self.waits = StepWaits(Roles(network), training)
        self.forward = _forward_rounds(network)
        self.whole_forward = network.critical_path_length
        self._rounds: dict[Need, tuple[int, int]] = {}

    def first(self, need: Need) -> int:
        return self._walk(need)[0]

    def last(self, need: Need) -> int:
        return self._walk(need)[1]

    def calls_start(self, need: Need) -> int:
        """The round the quantity's first calls can start in: once its needs exist."""
        wait = self.waits.of(*need)
        return self._after(need[0], (*wait.needs, *wait.call_needs))[0]

    def _after(self, quantity: Quantity, needs: tuple[Need, ...]) -> tuple[int, int]:
        """When `needs` all exist: for the first and the last example of a per-example
        quantity, for the whole batch (the last example) otherwise."""
        first = max((self.first(need) for need in needs), default=0)
        last = max((self.last(need) for need in needs), default=0)
        return (first if quantity in PER_EXAMPLE else last), last

    def _walk(self, need: Need) -> tuple[int, int]:
        if need not in self._rounds:
            self._rounds[need] = self._compute(need)
        return self._rounds[need]

    def _compute(self, need: Need) -> tuple[int, int]:
        quantity, node = need
        if quantity is Quantity.OUTPUT:
            return self.forward[node], self.forward[node]
        if quantity is Quantity.FORWARD:
            return self.whole_forward, self.whole_forward
        wait = self.waits.of(quantity, node)
        first, last = self._after(quantity, (*wait.needs, *wait.call_needs))
        first, last = first + wait.rounds, last + wait.rounds
        if wait.optional_calls:  # an example that makes no calls is ready with its needs
            first = min(first, self._after(quantity, wait.needs)[0])
        return first, last


def _forward_rounds(network: CompiledNetwork) -> dict[str, int]:
    """Per node, the lm calls on the longest path to it from the input (its forward rounds)."""
    lm_nodes = set(network.lm_nodes)
    rounds: dict[str, int] = {}
    for node in network.topological_order:
        before = max((rounds.get(parent, 0) for parent in network.graph.predecessors(node)), default=0)
        rounds[node] = before + (1 if node in lm_nodes else 0)
    return rounds
