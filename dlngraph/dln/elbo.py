"""The arithmetic of variational DLN training, free of I/O so it can be checked by hand.

Shapes follow the paper: i indexes examples, j posterior samples of a hidden state, k candidate
prompts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Matrix = list[list[float]]


def softmax(logits: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Numerically stable softmax of `logits / temperature`; -inf logits get weight 0."""
    scaled = [value / temperature for value in logits]
    top = max(scaled)
    if top == -math.inf:
        return [1.0 / len(scaled)] * len(scaled)
    exps = [math.exp(value - top) for value in scaled]
    total = sum(exps)
    return [value / total for value in exps]


def sharpening_weights(
    likelihood: Matrix, prior: Matrix | None, temperature: float
) -> Matrix:
    """Posterior sharpening: w_ij = softmax_j((log p(y_i | h~_ij) + log p(h~_ij | x_i)) / T).

    `likelihood[i][j]` is the children's log-likelihood of their targets given sample j;
    `prior[i][j]` (optional, `include_prior`) the hidden node's own log-probability of it.
    """
    weights = []
    for i, row in enumerate(likelihood):
        logits = [value + (prior[i][j] if prior is not None else 0.0) for j, value in enumerate(row)]
        weights.append(softmax(logits, temperature))
    return weights


def argmax(values: Sequence[float]) -> int:
    """Index of the largest value; ties go to the first (the current prompt or sample)."""
    best = 0
    for index, value in enumerate(values):
        if value > values[best]:
            best = index
    return best


def weighted_elbo(scores: list[Matrix], weights: Matrix) -> list[float]:
    """Per candidate k: mean_i sum_j w_ij * scores[i][j][k] (the ELBO term of a prompt).

    `scores[i][j][k]` = log p(target_i | sample j, candidate k).
    """
    num_candidates = len(scores[0][0])
    totals = [0.0] * num_candidates
    for i, per_sample in enumerate(scores):
        for j, per_candidate in enumerate(per_sample):
            for k, value in enumerate(per_candidate):
                totals[k] += weights[i][j] * value
    return [total / len(scores) for total in totals]


def nce_elbo(scores: list[Matrix], weights: Matrix) -> list[float]:
    """Per candidate k: mean_i sum_j w_ij log softmax_j(scores[i][.][k]) (the paper's `use_nce`).

    A candidate is rewarded for telling the sharpened samples apart from the other samples of
    the same example rather than for making them likely; the softmax runs over the samples
    with some weight (a forward state left out by `include_h1: false` takes no part)."""
    num_candidates = len(scores[0][0])
    totals = [0.0] * num_candidates
    for per_sample, row_weights in zip(scores, weights, strict=True):
        active = [j for j, weight in enumerate(row_weights) if weight > 0]
        for k in range(num_candidates):
            logits = [per_sample[j][k] for j in active]
            top = max(logits)
            log_total = top + math.log(sum(math.exp(value - top) for value in logits))
            totals[k] += sum(row_weights[j] * (per_sample[j][k] - log_total) for j in active)
    return [total / len(scores) for total in totals]


def mean_over_examples(scores: Matrix) -> list[float]:
    """Per candidate k: mean_i scores[i][k] (DLN-1 ranking: mean log-likelihood of targets)."""
    num_candidates = len(scores[0])
    return [sum(row[k] for row in scores) / len(scores) for k in range(num_candidates)]


def candidate_scores(elbos: Sequence[float], penalties: Sequence[float]) -> list[float]:
    """What ranks candidate k: score_k = ELBO_k - penalty_k, the penalty being the trust region
    of a scored node (`trust_penalties`, weighted) or the logp penalty of a hidden one (0
    without them). The chosen candidate is their `argmax`."""
    return [value - penalty for value, penalty in zip(elbos, penalties, strict=True)]


def kl_divergence(p: dict[str, float], q: dict[str, float], floor: float = 1e-12) -> float:
    """KL(p || q) between two class distributions over the same labels."""
    return sum(p_value * (math.log(max(p_value, floor)) - math.log(max(q.get(label, 0.0), floor)))
               for label, p_value in p.items() if p_value > 0)


def trust_penalties(candidate_distributions: list[list[dict[str, float]]]) -> list[float]:
    """Per candidate k: mean_i KL(p_current(. | x_i) || p_k(. | x_i)); candidate 0 is current
    (the paper's `compute_pairwise_kl`, the current prompt's distribution as the reference).

    `candidate_distributions[i][k]` is candidate k's class distribution on example i.
    """
    num_candidates = len(candidate_distributions[0])
    penalties = [0.0] * num_candidates
    for per_candidate in candidate_distributions:
        current = per_candidate[0]
        for k, distribution in enumerate(per_candidate):
            penalties[k] += kl_divergence(current, distribution)
    return [value / len(candidate_distributions) for value in penalties]


def decayed(value: float, iteration: int, iterations: int, decay: bool) -> float:
    """The paper's `decay_logp_penalty`: `value * (1 - iteration / iterations)`, linear from
    `value` at the first step down to `value / iterations` at the last."""
    if not decay or iterations <= 0:
        return value
    return value * max(0.0, 1.0 - iteration / iterations)
