"""A hidden node's posterior samples, asked per example as soon as its hidden state exists."""

from __future__ import annotations

from dlngraph.dln.priorities import BULK, URGENT
from dlngraph.dln.step import TrainingStep
from dlngraph.testing.server import Latency, ScriptedServer
from tests.dln.step.scripted_steps import (
    BATCH2,
    dln2_network,
    dln2_script,
    ordered_phases,
    positions,
    settings,
    subscribe_in_order,
)
from tests.scripted import close_models, scripted_models


async def test_posterior_sampling_starts_before_the_forward_pass_ends_and_only_scores_are_bulk() -> None:
    """The hidden node's posterior needs its own outputs, not the output node's: no barrier
    after the forward pass. Every call but the ranking's scores unlocks further work, so only
    those are sent at the lower priority."""
    network = dln2_network()
    events: list[tuple[str, str, str, int]] = []
    async with ScriptedServer(script=dln2_script(), latency=Latency(mean_s=0.05)) as server:
        models = scripted_models(network, server)
        subscribe_in_order(models, events)
        try:
            await TrainingStep(network, models, BATCH2, settings(backward_model="backward")).run()
        finally:
            await close_models(models)
    first_posterior = min(t for event, node, phase, t in events if event == "start" and phase == "posterior")
    last_output_forward = max(t for event, node, phase, t in events if event == "end" and (node, phase) == ("answer", "forward"))
    assert first_posterior < last_output_forward
    tags = {tag for model in models.values() for _, tag, _ in model.stats.groups()}
    assert {tag.phase for tag in tags} >= {"forward", "posterior", "sharpening", "proposal", "score"}
    assert all(tag.priority == (BULK if tag.phase == "score" else URGENT) for tag in tags)


async def test_each_example_is_sampled_and_sharpened_on_its_own() -> None:
    """An example's posterior starts once its own hidden state exists, and its sharpening
    once its own samples do: neither waits for the whole batch."""
    events = await ordered_phases(BATCH2)
    assert min(positions(events, "start", "posterior")) < max(positions(events, "end", "forward", "reason"))
    assert min(positions(events, "start", "sharpening")) < max(positions(events, "end", "posterior"))
