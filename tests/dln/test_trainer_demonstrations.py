"""Demonstrations through training, on the scripted server: the trainer's state carries them
beside the prompts into every step, validation and test, the run directory records them
(checkpoint, events, summary), final.yaml holds them as YAML and `eval` shows them."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from dlngraph.dln.run_format import TrainState, decode_checkpoint
from dlngraph.dln.trainer import Trainer
from dlngraph.runs import TrainOptions, evaluate_splits, resume_run, train_spec
from dlngraph.spec import Demonstration, load_spec
from dlngraph.spec.network import NetworkSpec
from dlngraph.testing.server import ScriptedServer
from tests.dln.test_trainer import DEV, TRAIN, fit, network, script
from tests.scripted import close_models, scripted_models

SPEC = Path(__file__).resolve().parents[2] / "specs" / "dln1.yaml"
GIVEN = [
    Demonstration(input="Take 1 step. Take 1 step backward.", output="Yes", source="written by hand"),
    Demonstration(input="Take 2 steps.", output="No", source="written by hand"),
]
SHOWN = "Take 1 step. Take 1 step backward.\nAnswer: Yes\n\nTake 2 steps.\nAnswer: No\n\n"
"""How `classify` shows `GIVEN`, between the instruction and the example."""


def prompts_sent(server: ScriptedServer) -> list[str]:
    return [body["prompt"] for body in server.stats.bodies if isinstance(body.get("prompt"), str)]


def answer_prompts(prompts: list[str], instruction: str) -> list[str]:
    """The prompts of the classifier (proposals and the like start otherwise)."""
    return [prompt for prompt in prompts if prompt.startswith(instruction + "\n\n")]


def with_demonstrations(spec: NetworkSpec, demonstrations: list[Demonstration], **training: object) -> NetworkSpec:
    node = msgspec.structs.replace(spec.nodes[0], demonstrations=demonstrations)
    return msgspec.structs.replace(spec, nodes=[node], training=msgspec.structs.replace(spec.training, **training))


async def test_a_run_shows_its_demonstrations_in_every_call_and_writes_them_where_it_writes_prompts(tmp_path: Path) -> None:
    spec = with_demonstrations(load_spec(SPEC).spec, GIVEN, iterations=2, num_demos=0)  # shown as given, not learned
    instruction = spec.nodes[0].prompt
    async with ScriptedServer() as server:
        summary = await train_spec(spec, TrainOptions(runs_root=tmp_path, base_url=server.base_url), base_dir=SPEC.parent)
        sent = answer_prompts(prompts_sent(server), instruction)
    assert sent and all(prompt.startswith(f"{instruction}\n\n{SHOWN}") for prompt in sent)
    run = Path(summary.run_dir)
    assert summary.best_demonstrations == {"answer": GIVEN}
    assert decode_checkpoint(run / "checkpoint.json").best_demonstrations == {"answer": GIVEN}
    start, *steps = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    given = msgspec.to_builtins(GIVEN)
    assert start["demonstrations"] == {"answer": given} and [step["demonstrations"] for step in steps] == [{"answer": given}] * 2
    final = load_spec(run / "final.yaml").spec
    assert final.nodes[0].demonstrations == GIVEN
    assert "source: written by hand" in (run / "final.yaml").read_text()

    async with ScriptedServer() as server:
        (report,) = await evaluate_splits(run / "final.yaml", splits=["test"], base_url=server.base_url,
                                          cache_path=tmp_path / "fresh.sqlite")
        evaluated = answer_prompts(prompts_sent(server), final.nodes[0].prompt)
    assert report.rows[0].count == 20 and len(set(evaluated)) == 20
    assert all(SHOWN in prompt for prompt in evaluated)


async def test_a_state_s_demonstrations_are_what_the_steps_validation_and_test_show() -> None:
    """The trainer's state, not the spec, decides what is shown (a resumed run's checkpoint)."""
    net = network(iterations=1, num_demos=1)
    theirs = [Demonstration(input="Q99 walk", output="Yes", source="train-99")]
    state = TrainState(prompts=net.prompts(), best_prompts=net.prompts(),
                       demonstrations={"answer": theirs}, best_demonstrations={"answer": theirs})
    async with ScriptedServer(script=script()) as server:
        models = scripted_models(net, server)
        try:
            trainer = Trainer(net, models, train=TRAIN, dev=DEV, test=DEV, labels=["Yes", "No"])
            outcome = await trainer.fit(state)
        finally:
            await close_models(models)
        sent = answer_prompts(prompts_sent(server), "CURRENT")
    assert outcome.state.demonstrations == {"answer": theirs} and outcome.test is not None
    shown = "CURRENT\n\nQ99 walk\nAnswer: Yes\n\n"
    asked = {prompt.split("\n\n")[2] for prompt in sent}
    assert {f"{example.input}\nAnswer:" for example in DEV} < asked <= {f"{example.input}\nAnswer:" for example in [*TRAIN, *DEV]}
    assert all(prompt.startswith(shown) for prompt in sent)


async def test_demonstrations_make_a_prompt_set_of_their_own_in_the_dev_scores() -> None:
    net = network(iterations=1, num_demos=1)
    one = [Demonstration(input="Q1 walk", output="Yes", source="train-1")]
    plain = await fit(net)
    shown = await fit(net.with_demonstrations({"answer": one}))
    assert set(plain.state.dev_scores).isdisjoint(shown.state.dev_scores)
    assert shown.state.best_demonstrations == {"answer": one} and plain.state.best_demonstrations == {"answer": []}


async def test_a_killed_run_resumes_with_the_demonstrations_of_its_checkpoint(tmp_path: Path) -> None:
    """Its checkpoint's, not its spec's: a resumed run goes on from what it had."""
    spec = with_demonstrations(load_spec(SPEC).spec, GIVEN, iterations=2, num_demos=0)  # shown as given, not learned
    async with ScriptedServer() as server:
        options = TrainOptions(runs_root=tmp_path, base_url=server.base_url)
        whole = await train_spec(spec, options, base_dir=SPEC.parent)
        run = Path(whole.run_dir)
        state = decode_checkpoint(run / "checkpoint.json")
        changed = [Demonstration(input="Take 3 steps.", output="No", source="train-3")]
        state.iteration, state.stopped = 1, "running"
        state.demonstrations = state.best_demonstrations = {"answer": changed}
        (run / "checkpoint.json").write_bytes(msgspec.json.encode(state))
        (run / "summary.json").unlink()
        before = len(prompts_sent(server))
        resumed = await resume_run(run, options)
        sent = answer_prompts(prompts_sent(server)[before:], spec.nodes[0].prompt)
    assert sent and all("Take 3 steps.\nAnswer: No\n\n" in prompt and SHOWN not in prompt for prompt in sent)
    assert resumed.best_demonstrations == {"answer": changed}
    assert load_spec(run / "final.yaml").spec.nodes[0].demonstrations == changed
