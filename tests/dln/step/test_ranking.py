"""Ranking the candidates: the highest ELBO wins, less the trust-region penalty, for scored and hidden
nodes."""

from __future__ import annotations

import math

import pytest

from dlngraph.testing.server import Script
from tests.dln.step.scripted_steps import (
    BATCH2,
    classes_favour,
    dln1_network,
    dln2_network,
    dln2_script,
    run_step,
    settings,
)


async def test_ranking_picks_the_candidate_with_the_highest_likelihood() -> None:
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "MEDIOCRE", "BEST", "WRONG")
    classes_favour(script, "BEST")
    classes_favour(script, "WRONG", good=False)
    script.class_logprobs(r"(?s)MEDIOCRE.*Q1", {" Yes": -0.6, " No": -0.9})
    script.class_logprobs(r"(?s)MEDIOCRE.*Q2", {" No": -0.6, " Yes": -0.9})
    _, result = await run_step(dln1_network(), script, settings())
    update = result.updates["answer"]
    prompts = [candidate.prompt for candidate in update.candidates]
    assert sorted(prompts) == sorted(["CURRENT", "MEDIOCRE", "BEST", "WRONG"])
    assert update.prompt == "BEST" and result.prompts["answer"] == "BEST"
    best = update.candidates[update.chosen]
    expected = math.log(math.exp(-0.05) / (math.exp(-0.05) + math.exp(-3.0)))
    assert best.elbo == pytest.approx(expected)
    assert [c.origin for c in update.candidates].count("current") == 1


async def test_trust_factor_keeps_a_candidate_close_to_the_current_distribution() -> None:
    # BOLD explains the targets best but moves far from the current prompt's distribution;
    # CAREFUL is slightly worse and close to it. With a trust factor, CAREFUL wins.
    script = Script().answer(r"(?s)New instruction:", "BOLD", "CAREFUL")
    script.class_logprobs(r"(?s)CURRENT.*Q1", {" Yes": -0.9, " No": -0.6})
    script.class_logprobs(r"(?s)CURRENT.*Q2", {" No": -0.9, " Yes": -0.6})
    classes_favour(script, "BOLD")
    script.class_logprobs(r"(?s)CAREFUL.*Q1", {" Yes": -0.6, " No": -0.9})
    script.class_logprobs(r"(?s)CAREFUL.*Q2", {" No": -0.6, " Yes": -0.9})
    _, plain = await run_step(dln1_network(), script, settings(num_p_samples=3))
    assert plain.updates["answer"].prompt == "BOLD"
    _, trusted = await run_step(dln1_network(), script, settings(num_p_samples=3, trust_factor=5.0))
    update = trusted.updates["answer"]
    assert update.prompt == "CAREFUL"
    bold = next(c for c in update.candidates if c.prompt == "BOLD")
    assert bold.penalty > 0 and bold.score == pytest.approx(bold.elbo - bold.penalty)


async def test_dln2_picks_the_hidden_sample_and_the_prompts_that_explain_it() -> None:
    network = dln2_network()
    _, result = await run_step(network, dln2_script(), settings(backward_model="backward"), BATCH2)
    assert result.updates["reason"].prompt == "PROMPT GOOD"
    assert result.updates["answer"].prompt == "ANSWER GOOD"
    assert result.prompts == {"reason": "PROMPT GOOD", "answer": "ANSWER GOOD"}
    assert result.updates["reason"].role == "hidden" and result.updates["answer"].role == "scored"
