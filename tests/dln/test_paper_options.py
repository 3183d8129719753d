"""The paper's options (microsoft/deep-language-networks at 036d895) change the calls a step
makes, and what it does with their answers, as the paper's `VILModel` does."""

from __future__ import annotations

import math
import re

import pytest

from dlngraph.dln import elbo
from dlngraph.testing.script import AnswerRule
from dlngraph.testing.server import Script, ScriptedServer
from tests.dln.step.scripted_steps import (
    BATCH2,
    dln2_network,
    dln2_script,
    run_step,
    settings,
)
from tests.dln.test_trainer import DEV, TRAIN, _rebuild
from tests.scripted import DLN1, close_models, network_from_text, scripted_models

SAMPLES = {"notes A", "notes B", "notes C"}
"""The posterior samples of `dln2_script`; the forward hidden state is "notes F"."""


def prompts_sent(server: ScriptedServer) -> list[str]:
    return [body["prompt"] for body in server.stats.bodies if isinstance(body.get("prompt"), str)]


async def run_dln2(script: Script, batch=BATCH2, **training: object):
    """A DLN-2 step; the step, its result and every prompt the server was sent."""
    network = dln2_network()
    async with ScriptedServer(script=script) as server:
        step, result = await _step(network, server, batch, training)
        return step, result, prompts_sent(server)


async def _step(network, server, batch, training):
    from dlngraph.dln.step import TrainingStep

    models = scripted_models(network, server)
    try:
        step = TrainingStep(network, models, batch, settings(backward_model="backward", **training))
        return step, await step.run()
    finally:
        await close_models(models)


# --- include_h1 ----------------------------------------------------------------------------------


async def test_without_include_h1_the_forward_state_takes_no_part_in_the_sharpening() -> None:
    step, _ = await run_step(dln2_network(), dln2_script(), settings(backward_model="backward"), BATCH2)
    for row_samples, row_weights in zip(await step.samples.of("reason"), await step.sharpening.weights("reason"), strict=True):
        assert row_samples[0] == "notes F" and row_weights[0] == 0.0
        assert sum(row_weights[1:]) == pytest.approx(1.0)
    old, _ = await run_step(dln2_network(), dln2_script(), settings(backward_model="backward", include_h1=True), BATCH2)
    assert all(row[0] > 0 for row in await old.sharpening.weights("reason"))


async def test_a_forward_state_that_is_also_a_posterior_sample_keeps_its_weight() -> None:
    script = dln2_script()
    script._answers.insert(0, AnswerRule(re.compile(r"New notes:"), ("notes F", "notes B")))  # rules match in order
    step, _ = await run_step(dln2_network(), script, settings(backward_model="backward"), BATCH2)
    for row_samples, row_weights in zip(await step.samples.of("reason"), await step.sharpening.weights("reason"), strict=True):
        assert row_samples == ["notes F", "notes B"] and row_weights[0] > 0


# --- use_h_argmax --------------------------------------------------------------------------------


async def test_use_h_argmax_scores_the_candidates_on_h_star_alone() -> None:
    def scored_samples(prompts: list[str], candidate: str) -> set[str]:
        return {text for text in SAMPLES | {"notes F"} for prompt in prompts if candidate in prompt and text in prompt}

    _, every, sent_every = await run_dln2(dln2_script())
    _, argmax, sent_argmax = await run_dln2(dln2_script(), use_h_argmax=True)
    assert scored_samples(sent_every, "ANSWER BAD") == SAMPLES | {"notes F"}
    # h* is notes B on both examples: the other samples are not scored with any candidate,
    # the forward state only for the penalties (as the paper's r_h1 and ll_orig).
    assert scored_samples(sent_argmax, "ANSWER BAD") == {"notes B", "notes F"}
    assert len(sent_argmax) < len(sent_every)
    # On notes B the current answer prompt is as sure as ANSWER GOOD: a tie keeps the current
    # prompt, where the weighted ranking (which also sees notes A, C and F) prefers GOOD.
    right = math.log(math.exp(-0.05) / (math.exp(-0.05) + math.exp(-3.0)))
    by_prompt = {c.prompt: c for c in argmax.updates["answer"].candidates}
    assert by_prompt["ANSWER GOOD"].elbo == pytest.approx(right)
    assert argmax.updates["answer"].chosen == 0 and by_prompt[argmax.prompts["answer"]].elbo == pytest.approx(right)
    assert every.prompts["answer"] == "ANSWER GOOD"


# --- use_nce -------------------------------------------------------------------------------------


async def test_use_nce_ranks_hidden_prompts_by_how_they_tell_the_samples_apart() -> None:
    _, plain, _ = await run_dln2(dln2_script())
    _, nce, _ = await run_dln2(dln2_script(), use_nce=True)
    by_prompt = {c.prompt: c for c in nce.updates["reason"].candidates}
    # PROMPT MEH gives every sample the same log-probability: a uniform softmax over the three
    # posterior samples (the forward state is out, include_h1 being false), whatever the weights.
    assert by_prompt["PROMPT MEH"].elbo == pytest.approx(-math.log(3))
    plain_meh = next(c for c in plain.updates["reason"].candidates if c.prompt == "PROMPT MEH")
    assert plain_meh.elbo == pytest.approx(-3.0)
    # PROMPT GOOD makes h* = notes B far likelier than the rest, which wins the weighted ranking;
    # the current prompt tells the three samples apart in the order of their weights, which NCE
    # rewards more.
    assert plain.prompts["reason"] == "PROMPT GOOD"
    assert nce.updates["reason"].chosen == 0 and nce.updates["reason"].candidates[0].origin == "current"


def test_nce_elbo_by_hand() -> None:
    scores = [[[0.0, -1.0], [-2.0, -1.0]]]  # one example, two samples, two candidates
    weights = [[0.75, 0.25]]
    first = 0.75 * math.log(1 / (1 + math.exp(-2))) + 0.25 * math.log(math.exp(-2) / (1 + math.exp(-2)))
    assert elbo.nce_elbo(scores, weights) == pytest.approx([first, math.log(0.5)])
    assert elbo.nce_elbo(scores, [[0.0, 1.0]]) == pytest.approx([0.0, 0.0])  # a weightless sample takes no part


# --- strip_options_for_hidden --------------------------------------------------------------------

WITH_OPTIONS = [
    type(BATCH2[0])(input="Q1 Always face forward.\nOptions:\n- Yes\n- No", target="Yes"),
    type(BATCH2[0])(input="Q2 Always face forward.\nOptions:\n- Yes\n- No", target="No"),
]


async def test_strip_options_for_hidden_removes_the_options_block_from_the_hidden_layer_only() -> None:
    step, _, sent = await run_dln2(dln2_script(), WITH_OPTIONS, strip_options_for_hidden=True)
    hidden_forward = [prompt for prompt in sent if "step at a time" in prompt]
    hidden_posterior = [prompt for prompt in sent if "New notes:" in prompt]
    classifier = [prompt for prompt in sent if "Given the question" in prompt and "New " not in prompt]
    assert hidden_forward and hidden_posterior and classifier
    assert not any("Options:" in prompt for prompt in hidden_forward + hidden_posterior)
    assert all("Options:\n- Yes\n- No" in prompt for prompt in classifier)  # the residual keeps them
    _, _, unstripped = await run_dln2(dln2_script(), WITH_OPTIONS)
    assert all("Options:" in prompt for prompt in unstripped if "step at a time" in prompt)


# --- num_p1_steps --------------------------------------------------------------------------------


async def test_num_p1_steps_proposes_again_from_the_first_rounds_best_prompt() -> None:
    script = dln2_script().answer(r"(?s)instruction:\nPROMPT GOOD.*New instruction:", "PROMPT BEST")
    for text in ("notes A", "notes B", "notes C", "notes F"):
        script.logprob(r"PROMPT BEST", text, -0.01 if text == "notes B" else -1.0)
    _, once, sent_once = await run_dln2(script)
    _, twice, sent_twice = await run_dln2(script, num_p1_steps=2)
    from_good = [prompt for prompt in sent_twice if "instruction:\nPROMPT GOOD" in prompt]
    assert not any("instruction:\nPROMPT GOOD" in prompt for prompt in sent_once)
    assert len(from_good) == 3  # num_p_samples - 1 proposals of the second round
    assert (once.prompts["reason"], twice.prompts["reason"]) == ("PROMPT GOOD", "PROMPT BEST")
    assert twice.updates["reason"].candidates[0].prompt == "PROMPT GOOD"  # the round's current prompt


# --- burn_in_ratio -------------------------------------------------------------------------------


async def test_burn_in_leaves_the_first_target_tokens_out_of_the_score() -> None:
    from dlngraph.llm.openai.backend import OpenAIBackend
    from dlngraph.llm.types import ScoreRequest

    target = "\n" + " ".join(f"word{i}" for i in range(40))
    async with ScriptedServer(script=Script().logprob(r"Q:", target, -1.0)) as server:
        backend = OpenAIBackend(base_url=server.base_url, model=server.model)
        try:
            every = await backend.score(ScoreRequest(context="Q:", target=target))
            burnt = await backend.score(ScoreRequest(context="Q:", target=target, burn_in_ratio=0.25))
        finally:
            await backend.aclose()
    assert burnt.num_tokens == every.num_tokens - int(0.25 * every.num_tokens)
    assert burnt.logprob_sum == pytest.approx(-burnt.num_tokens)


# --- tolerance: the paper's patience -------------------------------------------------------------


def lure_script() -> Script:
    """From CURRENT: GOOD (right everywhere). From GOOD: LURE, surer than GOOD on the training
    examples (Q0-Q7) and wrong on dev (Q8-Q13)."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "GOOD")
    script.answer(r"(?s)instruction:\n(GOOD|LURE).*New instruction:", "LURE")
    for i in range(14):
        right, wrong = (" Yes", " No") if i % 2 else (" No", " Yes")
        script.class_logprobs(rf"(?s)GOOD.*Q{i} walk", {right: -0.05, wrong: -3.0})
        lure = {right: -0.001, wrong: -7.0} if i < 8 else {wrong: -0.05, right: -3.0}
        script.class_logprobs(rf"(?s)LURE.*Q{i} walk", lure)
    return script


async def fit_lure(**training: object):
    from dlngraph.dln.trainer import Trainer
    from dlngraph.spec.training import TrainingSpec

    defaults = dict(iterations=3, batch_size=4, num_p_samples=2, backward_model="back", val_freq=1, seed=3)
    net = _rebuild(network_from_text(DLN1), TrainingSpec(**{**defaults, **training}))
    async with ScriptedServer(script=lure_script()) as server:
        models = scripted_models(net, server)
        try:
            return await Trainer(net, models, train=TRAIN, dev=DEV, labels=["Yes", "No"]).fit()
        finally:
            await close_models(models)


async def test_tolerance_loads_the_best_prompts_back_and_goes_on() -> None:
    drifting = await fit_lure()
    assert drifting.state.prompts == {"answer": "LURE"} and drifting.state.reloads == 0
    patient = await fit_lure(tolerance=1)
    assert patient.state.reloads >= 1 and patient.stopped == "completed"
    assert patient.iterations_run == 3  # training went on after the reload
    assert patient.state.prompts == {"answer": "GOOD"}  # the last validation reloaded GOOD again
    assert patient.state.best_prompts == {"answer": "GOOD"}


# --- posterior_sharpening_correct_weighting and use_mi_regularization ---------------------------


async def test_correct_weighting_takes_the_proposals_own_logprob_off_each_sample() -> None:
    # The posterior prompt shows the current prompt "Follow the moves...", so the script gives a
    # sample the same per-token logprob under q as its prior: the correction cancels the prior.
    corrected, _, sent = await run_dln2(dln2_script(), correct_weighting=True)
    scored_under_q = [prompt for prompt in sent if "New notes:" in prompt and prompt.rstrip().endswith(tuple(SAMPLES))]
    assert len(scored_under_q) == 2 * len(SAMPLES)  # one score per posterior sample, not the weightless forward state
    without_prior, _, _ = await run_dln2(dln2_script(), include_prior=False)
    for row, expected in zip(await corrected.sharpening.weights("reason"), await without_prior.sharpening.weights("reason"), strict=True):
        assert row == pytest.approx(expected)
    plain, _, _ = await run_dln2(dln2_script())
    assert (await plain.sharpening.weights("reason"))[0] != pytest.approx((await corrected.sharpening.weights("reason"))[0])


async def test_mi_regularization_scores_each_sample_without_the_residual_question() -> None:
    _, _, plain = await run_dln2(dln2_script())
    _, _, regularized = await run_dln2(dln2_script(), use_mi_regularization=True)
    without_question = [p for p in regularized if "Given the question" in p and "Q1" not in p and "Q2" not in p and "New " not in p]
    assert not [p for p in plain if "Given the question" in p and "Q1" not in p and "Q2" not in p and "New " not in p]
    assert {text for text in SAMPLES if any(text in prompt for prompt in without_question)} == SAMPLES
