"""The arithmetic of training, checked against values computed by hand."""

import math

import pytest

from dlngraph.dln import elbo


def test_softmax_matches_hand_computation():
    weights = elbo.softmax([0.0, math.log(3.0)])
    assert weights == pytest.approx([0.25, 0.75])


def test_softmax_temperature_flattens_and_sharpens():
    logits = [0.0, math.log(3.0)]
    assert elbo.softmax(logits, temperature=2.0) == pytest.approx([1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3))])
    assert elbo.softmax(logits, temperature=0.5) == pytest.approx([0.1, 0.9])


def test_sharpening_weights_add_prior_and_likelihood():
    # example 0: log p(y|h~) = [-1, -2], log p(h~|x) = [-3, -1]  -> logits [-4, -3]
    likelihood = [[-1.0, -2.0]]
    prior = [[-3.0, -1.0]]
    weights = elbo.sharpening_weights(likelihood, prior, temperature=1.0)
    expected_second = math.exp(-3) / (math.exp(-4) + math.exp(-3))
    assert weights[0] == pytest.approx([1 - expected_second, expected_second])
    without_prior = elbo.sharpening_weights(likelihood, None, temperature=1.0)
    assert without_prior[0][0] > without_prior[0][1]


def test_weighted_elbo_is_mean_over_examples_of_weighted_sums():
    # two examples, two samples, two candidates
    scores = [
        [[-1.0, -2.0], [-3.0, -4.0]],
        [[-0.5, -0.1], [-0.5, -0.1]],
    ]
    weights = [[0.75, 0.25], [0.5, 0.5]]
    # candidate 0: ((0.75*-1 + 0.25*-3) + (-0.5)) / 2 = (-1.5 - 0.5) / 2 = -1.0
    # candidate 1: ((0.75*-2 + 0.25*-4) + (-0.1)) / 2 = (-2.5 - 0.1) / 2 = -1.3
    assert elbo.weighted_elbo(scores, weights) == pytest.approx([-1.0, -1.3])


def test_kl_and_trust_penalties():
    current = {"yes": 0.5, "no": 0.5}
    new = {"yes": 0.9, "no": 0.1}
    expected = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert elbo.kl_divergence(new, current) == pytest.approx(expected)
    penalties = elbo.trust_penalties([[current, new], [current, current]])
    reverse = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)  # KL(current || new), as the paper
    assert penalties == pytest.approx([0.0, reverse / 2])


def test_argmax_prefers_the_first_on_ties():
    assert elbo.argmax([1.0, 3.0, 3.0]) == 1
    assert elbo.argmax([2.0, 2.0]) == 0


def test_linear_decay_reaches_zero_at_last_iteration():
    assert elbo.decayed(1.0, 0, 5, True) == 1.0
    assert elbo.decayed(1.0, 4, 5, True) == pytest.approx(0.2)  # the paper's 1 - iteration / iters
    assert elbo.decayed(1.0, 2, 4, True) == pytest.approx(0.5)
    assert elbo.decayed(1.0, 4, 5, False) == 1.0
