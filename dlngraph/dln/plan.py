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


def dependency_depth(network: CompiledNetwork) -> int:
    """Rounds of latency one step needs at best: the forward critical path; then per level of
    hidden nodes, posterior sampling and sharpening (a level's targets are the h* of the level
    above); then the last proposals and their scoring. Other proposals overlap with these."""
    return network.critical_path_length + 2 * _hidden_depth(network, Roles(network)) + 2


def _hidden_depth(network: CompiledNetwork, roles: Roles) -> int:
    """Length of the longest chain of hidden nodes (targets flow down it one level a round)."""
    depth: dict[str, int] = {}
    for node in reversed(network.topological_order):
        if node not in roles.hidden:
            continue
        consumers = [c for c in roles.consumers(node) if c in roles.hidden]
        depth[node] = 1 + max((depth[c] for c in consumers), default=0)
    return max(depth.values(), default=0)

