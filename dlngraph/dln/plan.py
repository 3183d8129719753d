"""How many LLM calls one training iteration makes, phase by phase, before making any.

A dry run prints this, the benchmark uses it for the throughput limit, and a user reads it to
budget a run. Counts are upper bounds: identical requests (duplicate posterior samples or
candidate prompts) are deduplicated or cached at run time.
"""

from __future__ import annotations

from dlngraph.dln.roles import Roles
from dlngraph.graph import CompiledNetwork
from dlngraph.spec.training import TrainingSpec

PHASES = ("forward", "posterior", "sharpening", "proposal", "score", "validation")


def calls_per_iteration(network: CompiledNetwork, training: TrainingSpec, *, dev_size: int = 0) -> dict[str, int]:
    """Expected calls of one iteration per phase; `validation` counts one pass over dev
    (it happens every `val_freq` iterations)."""
    roles = Roles(network)
    batch = training.batch_size
    ranked = batch // 2 if training.held_out_prompt_ranking and batch >= 2 else batch
    samples = training.num_h_samples + 1  # the forward hidden state is a sample too
    lm_nodes = [node for node in network.lm_nodes if node in network.required_by_output]
    calls = dict.fromkeys(PHASES, 0)
    calls["forward"] = batch * len(lm_nodes)
    calls["validation"] = dev_size * len(lm_nodes)
    for node in roles.hidden:
        calls["posterior"] += batch * training.num_h_samples
        prior = 1 if training.include_prior else 0
        calls["sharpening"] += batch * samples * (len(roles.consumers(node)) + prior)
    for node in network.trainable:
        calls["proposal"] += max(training.num_p_samples - 1, 0)
        candidates = training.num_p_samples + training.use_memory
        if node in roles.scored:
            parents = len(roles.hidden_parents(node))
            calls["score"] += ranked * candidates * (samples * parents if parents else 1)
        else:
            calls["score"] += ranked * samples * candidates
    return calls


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
    roles = Roles(network)
    forward = _forward_rounds(network)
    whole_forward = network.critical_path_length
    loss_only = training is not None and training.rewrite_loss_only
    sampled: dict[str, int] = {}
    best: dict[str, int] = {}

    def targets_ready(node: str) -> int:
        return best_hidden(node) if node in roles.hidden else 0

    def samples_ready(node: str) -> int:
        """The round a hidden node's posterior samples (and the whole forward pass) are in."""
        if node not in sampled:
            start = whole_forward if loss_only else max(forward[node], targets_ready(roles.consumers(node)[0]))
            sampled[node] = max(start + 1, whole_forward)
        return sampled[node]

    def best_hidden(node: str) -> int:
        """h* follows the sharpening, which also needs every consumer's targets."""
        if node not in best:
            consumers = roles.consumers(node)
            best[node] = max([samples_ready(node), *(targets_ready(consumer) for consumer in consumers)]) + 1
        return best[node]

    def updated(node: str) -> int:
        if node in roles.hidden:
            return best_hidden(node) + 2
        parents = roles.hidden_parents(node)
        scored = max([whole_forward + 1, *(samples_ready(parent) for parent in parents)]) + 1
        return max([scored, *(best_hidden(parent) for parent in parents)])

    return max((updated(node) for node in network.trainable), default=whole_forward)


def _forward_rounds(network: CompiledNetwork) -> dict[str, int]:
    """Per node, the lm calls on the longest path to it from the input (its forward rounds)."""
    lm_nodes = set(network.lm_nodes)
    rounds: dict[str, int] = {}
    for node in network.topological_order:
        before = max((rounds.get(parent, 0) for parent in network.graph.predecessors(node)), default=0)
        rounds[node] = before + (1 if node in lm_nodes else 0)
    return rounds
