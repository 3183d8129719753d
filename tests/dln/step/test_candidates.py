"""Candidates: the current prompt, the proposals and the remembered prompts, each ranked as soon as it
is known."""

from __future__ import annotations

from dlngraph.dln.step import TrainingStep
from dlngraph.testing.server import Latency, Script, ScriptedServer
from tests.dln.step.scripted_steps import (
    BATCH2,
    classes_favour,
    dln1_network,
    positions,
    run_step,
    settings,
    subscribe_in_order,
)
from tests.scripted import close_models, scripted_models


async def test_memory_offers_a_remembered_prompt_that_can_win() -> None:
    script = Script().answer(r"(?s)New instruction:", "NEW ONE", "NEW TWO", "NEW THREE")
    classes_favour(script, "REMEMBERED")
    step_settings = settings()
    step_settings.memory = {"answer": ["REMEMBERED"]}
    _, result = await run_step(dln1_network(), script, step_settings)
    update = result.updates["answer"]
    assert update.prompt == "REMEMBERED"
    assert update.candidates[update.chosen].origin == "memory"
    _, without = await run_step(dln1_network(), script, settings())
    assert "REMEMBERED" not in [c.prompt for c in without.updates["answer"].candidates]


async def test_each_proposal_is_scored_as_soon_as_it_is_written() -> None:
    """The proposals come back at different times (latency 50 ms +-90%): the scores of the
    first proposed candidates start before the slowest proposal is back, so more scores have
    started by then than the current prompt alone (the one known candidate) asks for."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "FIRST", "SECOND", "THIRD")
    network = dln1_network()
    events: list[tuple[str, str, str, int]] = []
    async with ScriptedServer(script=script, latency=Latency(mean_s=0.05, jitter=0.9, seed=5)) as server:
        models = scripted_models(network, server)
        subscribe_in_order(models, events)
        try:
            result = await TrainingStep(network, models, BATCH2, settings(num_p_samples=4)).run()
        finally:
            await close_models(models)
    assert len(result.updates["answer"].candidates) == 4  # the current prompt and three proposals
    last_proposal = max(positions(events, "end", "proposal"))
    known_cells = len(BATCH2)  # the current prompt's score on each example
    assert len([t for t in positions(events, "start", "score") if t < last_proposal]) > known_cells


async def test_proposals_with_nothing_left_after_cleaning_are_dropped_and_counted() -> None:
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "Input: Q9 walk\nAnswer: Yes", "BEST",
                             "Here is a better instruction:")
    classes_favour(script, "BEST")
    _, result = await run_step(dln1_network(), script, settings())
    update = result.updates["answer"]
    assert update.dropped_proposals == 2
    assert [candidate.prompt for candidate in update.candidates] == ["CURRENT", "BEST"]
    assert update.prompt == "BEST"
