"""The step's demonstrations stage: candidate sets drawn from the pool, never from the batch,
ranked by the same score as the proposed prompts; and the harvest of the batch, bootstrapped at
the output node (right answers, with their targets) and at a hidden node (h* where the network
then answers right)."""

from __future__ import annotations

import msgspec

from dlngraph.dln.elbo import candidate_scores
from dlngraph.dln.step import StepSettings, TrainingStep
from dlngraph.graph import compile_network
from dlngraph.llm.client import LanguageModel
from dlngraph.llm.openai.backend import OpenAIBackend
from dlngraph.spec import Demonstration
from dlngraph.spec.models import Limits
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import Script, ScriptedServer
from tests.dln.step.scripted_steps import (
    BATCH,
    BATCH2,
    dln1_network,
    dln2_network,
    dln2_script,
    run_step,
)
from tests.scripted import close_models

IN_BATCH = Demonstration(input="Q1 walk", output="Yes", source="Q1 walk")
HELPS = Demonstration(input="Q8 walk", output="No", source="Q8 walk")
NEUTRAL = Demonstration(input="Q7 walk", output="Yes", source="Q7 walk")


def with_training(network, **training: object):
    spec = msgspec.structs.replace(network.spec, training=msgspec.structs.replace(network.spec.training, **training))
    return compile_network(spec)


def dln1_script() -> Script:
    """CURRENT answers Q1 right and Q2 wrong; shown the Q8 demonstration, it answers both right;
    the proposals answer both wrong."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "BAD ONE", "BAD TWO", "BAD THREE")
    script.class_logprobs(r"(?s)Q8 walk\nAnswer: No.*Q1 walk\nAnswer:$", {" Yes": -0.05, " No": -3.0})
    script.class_logprobs(r"(?s)Q8 walk\nAnswer: No.*Q2 walk\nAnswer:$", {" No": -0.05, " Yes": -3.0})
    script.class_logprobs(r"(?s)CURRENT.*Q1 walk\nAnswer:$", {" Yes": -0.3, " No": -1.5})
    script.class_logprobs(r"(?s)CURRENT.*Q2 walk\nAnswer:$", {" Yes": -0.3, " No": -1.5})
    script.class_logprobs(r"(?s)BAD.*Q1 walk\nAnswer:$", {" No": -0.05, " Yes": -3.0})
    script.class_logprobs(r"(?s)BAD.*Q2 walk\nAnswer:$", {" Yes": -0.05, " No": -3.0})
    return script


def pooled(pool: dict[str, list[Demonstration]], **training: object) -> StepSettings:
    defaults: dict[str, object] = {"num_p_samples": 4, "num_h_samples": 3, "backward_model": "back", "seed": 7}
    return StepSettings(training=TrainingSpec(**{**defaults, **training}), iteration=0, demonstration_pool=pool)


async def test_an_output_node_ranks_sets_from_its_pool_beside_its_proposals_and_keeps_the_best() -> None:
    network = with_training(dln1_network(), num_demos=1, num_p_samples=4, backward_model="back")
    _, result = await run_step(network, dln1_script(), pooled({"answer": [IN_BATCH, HELPS, NEUTRAL]}, num_demos=1))
    update = result.updates["answer"]
    by_origin = {origin: [c for c in update.candidates if c.origin == origin] for origin in ("current", "proposal", "demonstrations")}
    assert [c.demonstrations for c in by_origin["current"]] == [[]]
    assert all(c.demonstrations == [] and c.prompt.startswith("BAD") for c in by_origin["proposal"]) and by_origin["proposal"]
    assert sorted(c.demonstrations[0].source for c in by_origin["demonstrations"]) == ["Q7 walk", "Q8 walk"]  # not Q1: in the batch
    assert all(c.prompt == "CURRENT" for c in by_origin["demonstrations"])
    assert [c.score for c in update.candidates] == candidate_scores([c.elbo for c in update.candidates], [c.penalty for c in update.candidates])
    chosen = update.candidates[update.chosen]
    assert (chosen.origin, chosen.demonstrations) == ("demonstrations", [HELPS])
    assert result.prompts == {"answer": "CURRENT"} and result.demonstrations == {"answer": [HELPS]}
    # the batch's harvest: the examples the network answers right, the target as the answer
    assert result.harvested == {"answer": [Demonstration(input="Q1 walk", output="Yes", source="Q1 walk")]}


async def test_no_candidate_shows_an_example_of_the_batch_even_when_the_pool_holds_nothing_else() -> None:
    network = with_training(dln1_network(), num_demos=2)
    _, result = await run_step(network, dln1_script(), pooled({"answer": [IN_BATCH]}, num_demos=2))
    candidates = result.updates["answer"].candidates
    assert [c.origin for c in candidates if c.demonstrations] == [] and len(candidates) == 4


async def test_a_node_that_learns_none_offers_no_sets_and_harvests_nothing() -> None:
    _, result = await run_step(dln1_network(), dln1_script(), pooled({"answer": [HELPS, NEUTRAL]}))
    assert {c.origin for c in result.updates["answer"].candidates} == {"current", "proposal"}
    assert result.demonstrations == {} and result.harvested == {}


async def test_a_hidden_node_harvests_its_best_hidden_text_where_the_network_then_answers_right() -> None:
    """In `dln2_script`, notes B (a posterior sample) make the classifier right on both
    examples: it is each example's h*, and the hidden node's demonstration there."""
    network = dln2_network()
    reason = msgspec.structs.replace(network.node("reason"), num_demos=1)
    network = compile_network(msgspec.structs.replace(network.spec, nodes=[reason, network.node("answer")]))
    pool = {"reason": [Demonstration(input="Q9 Take 2 steps.", output="notes Z", source="Q9")]}
    step, result = await run_step(network, dln2_script(), pooled(pool, backward_model="backward"), batch=BATCH2)
    assert await step.sharpening.best_hidden("reason") == ["notes B", "notes B"]
    assert result.harvested == {"reason": [
        Demonstration(input=example.input, output="notes B", source=example.input) for example in BATCH2
    ]}
    sets = [c for c in result.updates["reason"].candidates if c.origin == "demonstrations"]
    assert [c.demonstrations for c in sets] == [pool["reason"]]
    assert "answer" not in result.harvested  # k = 0 there


async def test_a_hidden_node_harvests_nothing_where_h_star_leaves_the_network_wrong() -> None:
    """A classifier that answers No whatever the notes: h* is right on Q2 alone."""
    network = dln2_network()
    reason = msgspec.structs.replace(network.node("reason"), num_demos=1)
    network = compile_network(msgspec.structs.replace(network.spec, nodes=[reason, network.node("answer")]))
    script = dln2_script(Script().class_logprobs(r"Answer:$", {" No": -0.01, " Yes": -5.0}))
    step, result = await run_step(network, script, pooled({}, backward_model="backward"), batch=BATCH2)
    best = await step.sharpening.best_hidden("reason")
    assert result.harvested == {"reason": [Demonstration(input=BATCH2[1].input, output=best[1], source=BATCH2[1].input)]}


async def test_a_set_over_the_context_window_is_scored_with_the_demonstrations_that_fit() -> None:
    """A set whose demonstrations do not fit is scored as the prompt with fewer (here none):
    the step goes on, and that candidate scores as the current prompt does."""
    network = with_training(dln1_network(), num_demos=1)
    huge = Demonstration(input="Q5 walk " + "and on " * 300, output="No", source="Q5 walk")
    async with ScriptedServer(script=dln1_script()) as server:
        backend = OpenAIBackend(base_url=server.base_url, model=server.model, context_window=600)
        models = {name: LanguageModel(name, backend, limits=Limits(max_attempts=1)) for name in network.spec.models}
        try:
            result = await TrainingStep(network, models, BATCH, pooled({"answer": [huge]}, num_demos=1)).run()
        finally:
            await close_models(models)
    candidates = {c.origin: c for c in result.updates["answer"].candidates}
    assert candidates["demonstrations"].demonstrations == [huge]
    assert candidates["demonstrations"].elbo == candidates["current"].elbo
