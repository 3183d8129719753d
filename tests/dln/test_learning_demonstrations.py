"""Demonstrations learned by training, on the scripted server: only training examples ever
reach a prompt as demonstrations, a run that stops resumes to the result of one that did not,
and the plan counts the candidate sets a step ranks."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from dlngraph.dln.phases import Phase
from dlngraph.dln.plan import calls_per_iteration
from dlngraph.dln.run_format import decode_checkpoint
from dlngraph.dln.step import StepSettings, TrainingStep
from dlngraph.graph import compile_network
from dlngraph.runs import TrainOptions, resume_run, train_spec
from dlngraph.runs.session import dataset_of
from dlngraph.spec import Demonstration, load_spec
from dlngraph.spec.network import NetworkSpec
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import ScriptedServer
from tests.scripted import Example, close_models, network_from_text, scripted_models

SPEC = Path(__file__).resolve().parents[2] / "specs" / "dln1.yaml"
DLN2 = SPEC.parent / "dln2.yaml"


def learning(path: Path, **training: object) -> NetworkSpec:
    spec = load_spec(path).spec
    return msgspec.structs.replace(spec, training=msgspec.structs.replace(spec.training, **training))


def prompts_sent(server: ScriptedServer) -> list[str]:
    return [body["prompt"] for body in server.stats.bodies if isinstance(body.get("prompt"), str)]


def every_demonstration(run: Path) -> list[Demonstration]:
    """Every demonstration the run directory holds: in each step's candidates and result, the
    checkpoint's state and pool, final.yaml."""
    found: list[Demonstration] = []
    for line in (run / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        shown = [*event.get("demonstrations", {}).values(), *event.get("harvested", {}).values()]
        shown += [c["demonstrations"] for update in event.get("updates", {}).values() for c in update["candidates"]]
        found += [msgspec.convert(entry, Demonstration) for entries in shown for entry in entries]
    state = decode_checkpoint(run / "checkpoint.json")
    for mapping in (state.demonstrations, state.best_demonstrations, state.demonstration_pool):
        found += [entry for entries in mapping.values() for entry in entries]
    return found + [entry for node in load_spec(run / "final.yaml").spec.nodes for entry in node.demonstrations]


@pytest.mark.parametrize("path", [SPEC, DLN2])
async def test_no_dev_or_test_input_reaches_a_prompt_but_as_the_example_it_is(path: Path, tmp_path: Path) -> None:
    """A short training that learns demonstrations at every lm node: each prompt the server
    received holds a dev or test input only where its own example goes (at the end, once),
    and every demonstration the run holds is a training example."""
    spec = learning(path, iterations=3, num_demos=2, val_freq=1)
    data = dataset_of(spec, path)
    held_out = [example.input for example in [*data.dev, *data.test]]
    async with ScriptedServer() as server:
        summary = await train_spec(spec, TrainOptions(runs_root=tmp_path, base_url=server.base_url), base_dir=path.parent)
        prompts = prompts_sent(server)
    assert len(prompts) < server.stats.max_bodies  # every body was kept
    leaks = [
        (text[:60], prompt[-200:]) for prompt in prompts for text in held_out
        if text in prompt and (prompt.count(text) > 1 or not _example_at_the_end(prompt, text))
    ]
    assert not leaks
    assert any(text in prompt for prompt in prompts for text in held_out)  # validation and test ran
    demonstrations = every_demonstration(Path(summary.run_dir))
    shown = {f"{entry.input}\nAnswer: {entry.output}" for entry in demonstrations}
    assert any(demonstration in prompt for prompt in prompts for demonstration in shown), "no demonstration was shown"
    train_ids = {example.id for example in data.train}
    assert {entry.source for entry in demonstrations} <= train_ids
    assert not [entry for entry in demonstrations for text in held_out if text in entry.input or text in entry.residual]


def _example_at_the_end(prompt: str, text: str) -> bool:
    """Whether `text` is the example of this call: nothing after it but the node's own cue
    and instruction (no demonstration comes after the example in any built-in template)."""
    after = prompt[prompt.index(text) + len(text):]
    return "Answer: " not in after and "\n\n\n" not in after and len(after) < 400


async def test_a_run_stopped_by_its_budget_resumes_to_the_result_of_a_run_that_was_not(tmp_path: Path) -> None:
    """The pool and the demonstrations are in the checkpoint: the resumed run draws the same
    candidate sets and ends with the same demonstrations, prompts and accuracies."""
    spec = learning(SPEC, iterations=3, num_demos=2, val_freq=1)
    async with ScriptedServer() as server:
        whole = await train_spec(spec, TrainOptions(runs_root=tmp_path / "whole", base_url=server.base_url), base_dir=SPEC.parent)
        stopped = await train_spec(spec, TrainOptions(runs_root=tmp_path / "stopped", base_url=server.base_url,
                                                      max_calls=120, cache="off"), base_dir=SPEC.parent)
        assert stopped.stopped == "budget" and 0 < stopped.iterations_run < 3
        assert decode_checkpoint(Path(stopped.run_dir) / "checkpoint.json").demonstration_pool["answer"]
        resumed = await resume_run(Path(stopped.run_dir), TrainOptions(base_url=server.base_url))
    assert resumed.stopped == "completed" and resumed.iterations_run == 3
    assert (resumed.best_prompts, resumed.best_demonstrations, resumed.best_dev_accuracy, resumed.test_accuracy) == (
        whole.best_prompts, whole.best_demonstrations, whole.best_dev_accuracy, whole.test_accuracy)
    assert _choices(Path(resumed.run_dir)) == _choices(Path(whole.run_dir))


def _choices(run: Path) -> list[object]:
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return [(event["prompts"], event["demonstrations"], event["updates"]) for event in events if event.get("kind") != "start"]


DLN1 = """
name: dln1
models: {m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}}
nodes:
  - {kind: lm, id: answer, model: m, template: classify, prompt: "CURRENT", classes: ["Yes|yes", "No|no"]}
output: answer
"""


async def test_the_plan_counts_the_sets_of_demonstrations_a_step_ranks() -> None:
    training = TrainingSpec(batch_size=4, num_p_samples=3, num_demos=1, seed=3)
    network = compile_network(msgspec.structs.replace(network_from_text(DLN1).spec, training=training))
    planned = calls_per_iteration(network, training)
    assert planned[Phase.SCORE] == (3 + 2) * 4  # the current prompt, 2 proposals, 2 sets, on 4 examples
    batch = [Example(f"Q{i} walk", "Yes") for i in range(4)]
    pool = {"answer": [Demonstration(input=f"Q{i} walk", output="No", source=f"Q{i} walk") for i in range(10)]}
    scores: list[str] = []
    async with ScriptedServer() as server:
        models = scripted_models(network, server)
        for stats in {id(model.stats): model.stats for model in models.values()}.values():
            stats.subscribe(lambda event, _, tag: scores.append(tag.phase) if event == "start" and tag.phase == "score" else None)
        try:
            result = await TrainingStep(network, models, batch,
                                        StepSettings(training=training, iteration=0, demonstration_pool=pool)).run()
        finally:
            await close_models(models)
    assert len([c for c in result.updates["answer"].candidates if c.origin == "demonstrations"]) == 2
    # the current prompt's scores on the batch are the forward pass's own distributions
    assert planned[Phase.SCORE] - 4 <= len(scores) <= planned[Phase.SCORE]
