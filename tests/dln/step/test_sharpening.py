"""Posterior sharpening: the weights of the hidden samples, h*, and when the terms are asked."""

from __future__ import annotations

import math

import pytest

from dlngraph.dln.step import TrainingStep
from dlngraph.testing.server import Script, ScriptedServer
from tests.dln.step.scripted_steps import (
    BATCH,
    BATCH2,
    NOTES,
    dln2_network,
    dln2_script,
    ordered_phases,
    positions,
    run_step,
    settings,
)
from tests.scripted import close_models, network_from_text, scripted_models


async def test_sharpening_weights_equal_hand_computed_values() -> None:
    network = dln2_network()
    step, result = await run_step(
        network, dln2_script(), settings(backward_model="backward", posterior_temp=2.0, include_h1=True), BATCH2
    )
    samples = await step.samples.of("reason")
    weights = await step.sharpening.weights("reason")
    for row in range(2):
        assert sorted(samples[row]) == ["notes A", "notes B", "notes C", "notes F"]
        assert samples[row][0] == "notes F"  # the forward hidden state comes first
        good = math.log(math.exp(-0.05) / (math.exp(-0.05) + math.exp(-3.0)))
        likelihood = {text: (good if text == "notes B" else math.log(0.5)) for text in samples[row]}
        logits = [(likelihood[text] + NOTES[text]) / 2.0 for text in samples[row]]
        top = max(logits)
        expected = [math.exp(v - top) / sum(math.exp(u - top) for u in logits) for v in logits]
        assert weights[row] == pytest.approx(expected, rel=1e-6)
    assert await step.sharpening.best_hidden("reason") == ["notes B", "notes B"]
    assert result.hidden["reason"].changed == 2


async def test_without_the_prior_the_likelihood_alone_decides() -> None:
    network = dln2_network()
    step, _ = await run_step(network, dln2_script(), settings(backward_model="backward", include_prior=False, include_h1=True), BATCH2)
    weights = await step.sharpening.weights("reason")
    samples = await step.samples.of("reason")
    for row in range(2):
        by_text = dict(zip(samples[row], weights[row]))
        assert by_text["notes A"] == pytest.approx(by_text["notes C"]) == pytest.approx(by_text["notes F"])
        assert by_text["notes B"] > by_text["notes A"]


async def test_scores_queue_behind_the_sharpening_without_waiting_for_its_replies() -> None:
    """Every sharpening term is asked for before any candidate score (so scores cannot take
    the slots the sharpening needs), yet the scores do not wait for the sharpening's replies."""
    events = await ordered_phases(BATCH2[:1])
    assert max(positions(events, "start", "sharpening")) <= min(positions(events, "start", "score"))
    assert min(positions(events, "start", "score")) < max(positions(events, "end", "sharpening"))


ENSEMBLE = """
name: ensemble
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
nodes:
  - {kind: lm, id: notes, model: m, prompt: "NOTES"}
  - {kind: lm, id: a, model: m, template: classify, prompt: "MEMBER A", inputs: [notes], classes: ["Yes|yes", "No|no"]}
  - {kind: lm, id: b, model: m, template: classify, prompt: "MEMBER B", classes: ["Yes|yes", "No|no"]}
  - {kind: vote, id: v, inputs: [a, b]}
output: v
"""


async def test_an_example_dropped_after_its_early_sharpening_failed_does_not_fail_the_step() -> None:
    """Q2 fails in member b, so the step drops it; its sharpening (on member a, which did
    answer) was already asked for, and failed. Only the kept example counts."""
    script = Script().answer(r"(?s)Q1.*New notes:", "NOTES FOR Q1").answer(r"(?s)Q2.*New notes:", "NOTES FOR Q2")
    script.fail(r"(?s)MEMBER B.*Q2")
    script.fail(r"(?s)MEMBER A.*NOTES FOR Q2")
    network = network_from_text(ENSEMBLE)
    step, result = await run_step(network, script, settings(backward_model=None, num_h_samples=2), BATCH)
    assert result.failed_examples == [1]
    assert (await step.state.forward_done()).kept == [0]
    assert set(result.updates) == {"notes", "a", "b"}


async def test_a_hidden_node_read_by_two_consumers_asks_both_their_terms_as_sharpening() -> None:
    """Both consumers' terms are sharpening (urgent), asked before any score can claim them."""
    network = network_from_text(ENSEMBLE.replace('prompt: "MEMBER B", classes', 'prompt: "MEMBER B", inputs: [notes], classes'))
    script = Script().answer(r"(?s)Q1.*New notes:", "NOTES FOR Q1").answer(r"(?s)Q2.*New notes:", "NOTES FOR Q2")
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            await TrainingStep(network, models, BATCH, settings(backward_model=None, num_h_samples=2)).run()
        finally:
            await close_models(models)
    phases = {(tag.node, tag.phase) for model in models.values() for _, tag, _ in model.stats.groups()}
    assert {("a", "sharpening"), ("b", "sharpening")} <= phases
