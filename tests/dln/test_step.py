"""One training step on a scripted server where the right answer is known."""

from __future__ import annotations

import math

import msgspec
import pytest

from dlngraph.dln.priorities import BULK, URGENT
from dlngraph.dln.step import StepSettings, TrainingStep
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import Latency, Script, ScriptedServer
from tests.scripted import (
    DLN1,
    Example,
    close_models,
    network_from_text,
    scripted_models,
    shipped_network,
)

BATCH = [Example(input="Q1 walk", target="Yes"), Example(input="Q2 walk", target="No")]


def settings(**training: object) -> StepSettings:
    defaults = dict(num_p_samples=4, num_h_samples=3, backward_model="back", seed=7)
    return StepSettings(training=TrainingSpec(**{**defaults, **training}), iteration=0)


def classes_favour(script: Script, prompt: str, good: bool = True) -> Script:
    """`prompt` answers Q1 with Yes and Q2 with No when `good` (the opposite otherwise)."""
    first, second = (" Yes", " No") if good else (" No", " Yes")
    script.class_logprobs(rf"(?s){prompt}.*Q1", {first: -0.05, second: -3.0})
    script.class_logprobs(rf"(?s){prompt}.*Q2", {second: -0.05, first: -3.0})
    return script


async def run_step(network, script: Script, step_settings: StepSettings, batch=BATCH):
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            step = TrainingStep(network, models, batch, step_settings)
            result = await step.run()
            return step, result
        finally:
            await close_models(models)


def dln1_network(with_backward: bool = True):
    network = network_from_text(DLN1)
    return network


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


# --- DLN-2: posterior sharpening and the hidden node's prompt ------------------------------

NOTES = {"notes A": -2.0, "notes B": -1.0, "notes C": -3.0, "notes F": -4.0}
"""log p(h | x, current prompt) per token of each hidden text."""


def dln2_script() -> Script:
    script = Script()
    # forward: the hidden layer writes "notes F"; posterior samples are A, B and C.
    script.answer(r"step at a time", "notes F")
    script.answer(r"New notes:", "notes A", "notes B", "notes C")
    # proposals for each node (the proposal template shows the node's current prompt).
    script.answer(r"(?s)instruction:\nFollow the moves.*New instruction:", "PROMPT GOOD", "PROMPT BAD", "PROMPT MEH")
    script.answer(r"(?s)instruction:\nGiven the question.*New instruction:", "ANSWER GOOD", "ANSWER BAD", "ANSWER MEH")
    # the classifier: notes B lead to the right answer; the good answer prompt always does.
    for prompt in ("Given the question", "ANSWER MEH"):
        script.class_logprobs(r"(?s)" + prompt + r".*Q1.*notes B\s*Answer:", {" Yes": -0.05, " No": -3.0})
        script.class_logprobs(r"(?s)" + prompt + r".*Q2.*notes B\s*Answer:", {" No": -0.05, " Yes": -3.0})
    classes_favour(script, "ANSWER GOOD")
    classes_favour(script, "ANSWER BAD", good=False)
    # prior of each hidden text under the current prompt and the candidates.
    for text, value in NOTES.items():
        script.logprob(r"Follow the moves", text, value)
        script.logprob(r"PROMPT GOOD", text, -0.1 if text == "notes B" else -5.0)
        script.logprob(r"PROMPT BAD", text, -6.0 if text == "notes B" else -0.5)
        script.logprob(r"PROMPT MEH", text, -3.0)
    return script


def dln2_network():
    network = shipped_network("dln2")
    spec = msgspec.structs.replace(
        network.spec,
        models={
            "fast": msgspec.structs.replace(network.spec.models["fast"], backend="openai"),
            "backward": msgspec.structs.replace(network.spec.models["backward"], backend="openai"),
        },
    )
    from dlngraph.graph import compile_network

    return compile_network(spec)


BATCH2 = [Example(input="Q1 Always face forward.", target="Yes"), Example(input="Q2 Always face forward.", target="No")]


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


async def test_dln2_picks_the_hidden_sample_and_the_prompts_that_explain_it() -> None:
    network = dln2_network()
    _, result = await run_step(network, dln2_script(), settings(backward_model="backward"), BATCH2)
    assert result.updates["reason"].prompt == "PROMPT GOOD"
    assert result.updates["answer"].prompt == "ANSWER GOOD"
    assert result.prompts == {"reason": "PROMPT GOOD", "answer": "ANSWER GOOD"}
    assert result.updates["reason"].role == "hidden" and result.updates["answer"].role == "scored"


async def test_without_the_prior_the_likelihood_alone_decides() -> None:
    network = dln2_network()
    step, _ = await run_step(network, dln2_script(), settings(backward_model="backward", include_prior=False, include_h1=True), BATCH2)
    weights = await step.sharpening.weights("reason")
    samples = await step.samples.of("reason")
    for row in range(2):
        by_text = dict(zip(samples[row], weights[row]))
        assert by_text["notes A"] == pytest.approx(by_text["notes C"]) == pytest.approx(by_text["notes F"])
        assert by_text["notes B"] > by_text["notes A"]


CHAIN3 = """
name: chain3
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
  back: {backend: openai, base_url: "http://127.0.0.1:9/v1", sampling: {temperature: 0.7}}
nodes:
  - {kind: lm, id: first, model: m, prompt: "FIRST"}
  - {kind: lm, id: second, model: m, prompt: "SECOND", inputs: [first], residual: [input], template: residual}
  - {kind: lm, id: third, model: m, template: classify, prompt: "THIRD", inputs: [second], classes: ["Yes|yes", "No|no"]}
output: third
"""


async def test_a_three_layer_chain_trains_every_node() -> None:
    network = network_from_text(CHAIN3)
    script = Script()
    for name in ("FIRST", "SECOND", "THIRD"):
        script.answer(rf"(?s)instruction:\n{name}.*New instruction:", f"{name} v2", f"{name} v3")
    for text in ("v2", "v3"):
        script.class_logprobs(rf"(?s)THIRD {text}.*Answer:", {" Yes": -0.01, " No": -4.0} if text == "v3" else {" No": -0.01})
    _, result = await run_step(network, script, settings(num_p_samples=3, num_h_samples=2), [Example(input="Q1", target="Yes")])
    assert set(result.updates) == {"first", "second", "third"}
    for node in ("first", "second", "third"):
        update = result.updates[node]
        assert len(update.candidates) == 3
        assert all(math.isfinite(candidate.score) for candidate in update.candidates)
    assert result.prompts["third"] == "THIRD v3"
    assert set(result.hidden) == {"first", "second"}


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


def subscribe_in_order(models, events: list[tuple[str, str, str, int]]) -> None:
    """Log (event, node, phase, position) of every call's start and end, in the order the LLM
    layer reports them: the tests below compare positions in that order, not timestamps, so
    that a busy machine (which stretches every interval) cannot turn them around."""
    for stats in {id(model.stats): model.stats for model in models.values()}.values():
        stats.subscribe(lambda event, _, tag: events.append((event, tag.node, tag.phase, len(events))))


async def ordered_phases(batch: list[Example]) -> list[tuple[str, str, str, int]]:
    """(event, node, phase, position) of every call of a DLN-2 step with remembered prompts."""
    network = dln2_network()
    events: list[tuple[str, str, str, int]] = []
    step_settings = settings(backward_model="backward")
    step_settings.memory = {"reason": ["REMEMBERED REASON"], "answer": ["REMEMBERED ANSWER"]}
    async with ScriptedServer(script=dln2_script(), latency=Latency(mean_s=0.05, jitter=0.9, seed=3)) as server:
        models = scripted_models(network, server)
        subscribe_in_order(models, events)
        try:
            await TrainingStep(network, models, batch, step_settings).run()
        finally:
            await close_models(models)
    return events


def positions(events: list[tuple[str, str, str, int]], event: str, phase: str, node: str | None = None) -> list[int]:
    """The positions of the `event`s of `phase` (of `node`) in the order they happened."""
    return [t for e, n, p, t in events if (e, p) == (event, phase) and node in (None, n)]


async def test_each_example_is_sampled_and_sharpened_on_its_own() -> None:
    """An example's posterior starts once its own hidden state exists, and its sharpening
    once its own samples do: neither waits for the whole batch."""
    events = await ordered_phases(BATCH2)
    assert min(positions(events, "start", "posterior")) < max(positions(events, "end", "forward", "reason"))
    assert min(positions(events, "start", "sharpening")) < max(positions(events, "end", "posterior"))


async def test_scores_queue_behind_the_sharpening_without_waiting_for_its_replies() -> None:
    """Every sharpening term is asked for before any candidate score (so scores cannot take
    the slots the sharpening needs), yet the scores do not wait for the sharpening's replies."""
    events = await ordered_phases(BATCH2[:1])
    assert max(positions(events, "start", "sharpening")) <= min(positions(events, "start", "score"))
    assert min(positions(events, "start", "score")) < max(positions(events, "end", "sharpening"))


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


async def test_a_class_distribution_the_forward_pass_has_is_not_asked_for_again() -> None:
    """The current prompt's score on the forward hidden state is the forward call itself."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "BEST")
    classes_favour(script, "BEST")
    network = dln1_network()
    async with ScriptedServer(script=script) as server:
        models = scripted_models(network, server)
        try:
            step = TrainingStep(network, models, BATCH, settings())
            result = await step.run()
        finally:
            await close_models(models)
        # the first class call asks the paper's 100 top logprobs and is refused: not an answer
        prompts = [body.get("prompt") for body in server.stats.bodies if body.get("logprobs", 0) <= server.max_logprobs]
    forward_prompts = [step.state.forward_run.output("answer", i).rendered for i in range(len(BATCH))]
    assert all(prompts.count(prompt) == 1 for prompt in forward_prompts)
    assert result.prompts["answer"] == "BEST"


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


async def test_proposals_with_nothing_left_after_cleaning_are_dropped_and_counted() -> None:
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "Input: Q9 walk\nAnswer: Yes", "BEST",
                             "Here is a better instruction:")
    classes_favour(script, "BEST")
    _, result = await run_step(dln1_network(), script, settings())
    update = result.updates["answer"]
    assert update.dropped_proposals == 2
    assert [candidate.prompt for candidate in update.candidates] == ["CURRENT", "BEST"]
    assert update.prompt == "BEST"
