"""Scripted training steps shared by the tests of the step's stages: a DLN-1 and a DLN-2 network,
scripts where the right answer is known, and the order in which a step's calls start and end."""

from __future__ import annotations

import msgspec

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


NOTES = {"notes A": -2.0, "notes B": -1.0, "notes C": -3.0, "notes F": -4.0}
"""log p(h | x, current prompt) per token of each hidden text."""


def dln2_script(script: Script | None = None) -> Script:
    """The DLN-2 step's answers, added to `script` (whose own rules come first)."""
    script = script or Script()
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
