"""How many LLM calls one training iteration makes, phase by phase, before making any.

A dry run prints this, the benchmark uses it for the throughput limit, and a user reads it to
budget a run. Counts are upper bounds: identical requests (duplicate posterior samples or
candidate prompts) are deduplicated or cached at run time.
"""

from __future__ import annotations

from dlngraph.dln.phases import Phase
from dlngraph.dln.roles import Roles
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
    ranked = batch // 2 if training.held_out_prompt_ranking and batch >= 2 else batch
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
    ranked_samples = 2 if training.use_h_argmax else samples  # the forward state and h*
    for node in network.trainable:
        rounds = 1 if node in roles.scored else training.num_p1_steps
        calls[Phase.PROPOSAL] += rounds * max(training.num_p_samples - 1, 0)
        candidates = training.num_p_samples + training.use_memory
        if node in roles.scored:
            parents = len(roles.hidden_parents(node))
            calls[Phase.SCORE] += ranked * candidates * (ranked_samples * parents if parents else 1)
        else:
            calls[Phase.SCORE] += rounds * ranked * ranked_samples * candidates
    return calls


def validation_passes(training: TrainingSpec) -> int:
    """Dev passes of a whole run: the start's (`do_first_eval`), then every `val_freq`
    iterations and after the last."""
    start = 1 if training.do_first_eval else 0
    if training.val_freq <= 0:
        return start + 1
    return start + max(1, training.iterations // training.val_freq + (training.iterations % training.val_freq != 0))


def calls_per_run(network: CompiledNetwork, training: TrainingSpec, *, dev_size: int = 0) -> int:
    """Expected calls of a whole run (an upper bound: the cache and deduplication save some)."""
    calls = calls_per_iteration(network, training, dev_size=dev_size)
    step = sum(count for phase, count in calls.items() if phase is not Phase.VALIDATION)
    return step * training.iterations + calls[Phase.VALIDATION] * validation_passes(training)


def dependency_depth(network: CompiledNetwork, training: TrainingSpec | None = None) -> int:
    """Rounds of latency one training step needs at best, following the step's own waits
    (`dlngraph.dln.step`):

    - a node's forward output arrives after as many rounds as there are lm nodes on the
      longest path to it from the input;
    - a hidden node samples its posterior once its own output and its consumer's targets exist
      (labels at once; a hidden consumer's h* once that consumer is sharpened), and is
      sharpened in the round after (the sharpening also needs its consumers' forward outputs,
      counted here as the whole forward pass, which they are in every shipped spec): h*;
    - a hidden node's proposals follow its h*, and their scores follow the proposals;
    - a scored node's proposals follow the whole forward pass; its candidates' scores follow
      them and its hidden parents' posterior samples (the scores are asked for once the
      parents' sharpening is sent, not answered), and its ranking needs that sharpening.
    """
    rounds = _StepRounds(network, training)
    return max((rounds.updated(node) for node in network.trainable), default=rounds.whole_forward)


def phase_start_rounds(network: CompiledNetwork, training: TrainingSpec | None = None) -> dict[tuple[str, Phase], int]:
    """The first round in which any call of each (node, phase) of a step can start, under the
    same waits as `dependency_depth`. Calls are tagged by the node they ask (a sharpening's
    consumer terms by the consumer), so a tag that several waits share gets the earliest.

    A step's calls cannot all go out at once: the staged limit of the benchmark counts, for
    each round r, the calls that cannot start before it.
    """
    rounds = _StepRounds(network, training)
    roles = rounds.roles
    starts: dict[tuple[str, Phase], int] = {}

    def earliest(node: str, phase: Phase, start: int) -> None:
        starts[node, phase] = min(start, starts.get((node, phase), start))

    for node, start in forward_start_rounds(network).items():
        earliest(node, Phase.FORWARD, start)
    for node in roles.hidden:
        if rounds.sampling:
            earliest(node, Phase.POSTERIOR, rounds.posterior_start(node))
        for asked in (node, *roles.consumers(node)):
            earliest(asked, Phase.SHARPENING, rounds.sharpening_start(node))
    for node in network.trainable:
        if node in roles.hidden:
            earliest(node, Phase.PROPOSAL, rounds.best_hidden(node))
            earliest(node, Phase.SCORE, rounds.best_hidden(node) - 1)  # known candidates: once sharpening is sent
        else:
            earliest(node, Phase.PROPOSAL, rounds.whole_forward)
            parents = roles.hidden_parents(node)
            earliest(node, Phase.SCORE, max([rounds.whole_forward, *(rounds.best_hidden(p) - 1 for p in parents)]))
    return starts


def forward_start_rounds(network: CompiledNetwork) -> dict[str, int]:
    """The round each lm node's forward calls can start in: after its lm ancestors' rounds."""
    return {node: rounds - 1 for node, rounds in _forward_rounds(network).items() if node in network.lm_nodes}


class _StepRounds:
    """The rounds (of latency) at which a step's quantities exist, memoised per node."""

    def __init__(self, network: CompiledNetwork, training: TrainingSpec | None) -> None:
        self.roles = Roles(network)
        self.forward = _forward_rounds(network)
        self.whole_forward = network.critical_path_length
        self.loss_only = training is not None and training.rewrite_loss_only
        self.sampling = training is None or training.num_h_samples > 0
        """Whether hidden nodes sample a posterior (otherwise their only sample is their output)."""
        self._sampled: dict[str, int] = {}
        self._best: dict[str, int] = {}

    def targets_ready(self, node: str) -> int:
        return self.best_hidden(node) if node in self.roles.hidden else 0

    def posterior_start(self, node: str) -> int:
        """A hidden node's posterior needs its own output and its (first) consumer's targets;
        rewriting only the examples the network got wrong also needs the whole forward pass."""
        start = max(self.forward[node], self.targets_ready(self.roles.consumers(node)[0]))
        return max(start, self.whole_forward) if self.loss_only else start

    def samples_ready(self, node: str) -> int:
        """The round a hidden node's posterior samples (and the whole forward pass) are in."""
        if node not in self._sampled:
            sampled = self.posterior_start(node) + 1 if self.sampling else self.forward[node]
            self._sampled[node] = max(sampled, self.whole_forward)
        return self._sampled[node]

    def first_samples(self, node: str) -> int:
        """The round the first example's samples of a hidden node exist: at its output without
        a posterior, after the whole forward pass for an example that `rewrite_loss_only`
        leaves as it is, else after its posterior."""
        if not self.sampling:
            return self.forward[node]
        return self.whole_forward if self.loss_only else self.posterior_start(node) + 1

    def sharpening_start(self, node: str) -> int:
        """An example is sharpened once its samples, its consumers' forward outputs on it and
        their targets exist."""
        consumers = self.roles.consumers(node)
        return max([self.first_samples(node), *(self.forward[c] for c in consumers), *(self.targets_ready(c) for c in consumers)])

    def best_hidden(self, node: str) -> int:
        """h* follows the sharpening, which also needs every consumer's targets."""
        if node not in self._best:
            consumers = self.roles.consumers(node)
            self._best[node] = max([self.samples_ready(node), *(self.targets_ready(c) for c in consumers)]) + 1
        return self._best[node]

    def updated(self, node: str) -> int:
        if node in self.roles.hidden:
            return self.best_hidden(node) + 2
        parents = self.roles.hidden_parents(node)
        scored = max([self.whole_forward + 1, *(self.samples_ready(parent) for parent in parents)]) + 1
        return max([scored, *(self.best_hidden(parent) for parent in parents)])


def _forward_rounds(network: CompiledNetwork) -> dict[str, int]:
    """Per node, the lm calls on the longest path to it from the input (its forward rounds)."""
    lm_nodes = set(network.lm_nodes)
    rounds: dict[str, int] = {}
    for node in network.topological_order:
        before = max((rounds.get(parent, 0) for parent in network.graph.predecessors(node)), default=0)
        rounds[node] = before + (1 if node in lm_nodes else 0)
    return rounds
