"""The training loop on a scripted server: validation, early stop, memory, run directory."""

from __future__ import annotations

import msgspec

from dlngraph.dln.run_format import StartRecord, TrainState
from dlngraph.dln.rundir import RunDirectory
from dlngraph.dln.trainer import Trainer
from dlngraph.engine import EventBus
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import Script, ScriptedServer
from tests.scripted import (
    DLN1,
    Example,
    close_models,
    network_from_text,
    scripted_models,
)

TRAIN = [Example(f"Q{i} walk", "Yes" if i % 2 else "No") for i in range(8)]
DEV = [Example(f"Q{i} walk", "Yes" if i % 2 else "No") for i in range(8, 14)]


def script() -> Script:
    """Proposals from CURRENT: GOOD (right on every example) and BAD; from GOOD: more GOOD."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "GOOD", "BAD")
    script.answer(r"(?s)instruction:\nGOOD.*New instruction:", "GOOD", "GOOD")
    for i in range(14):
        right, wrong = (" Yes", " No") if i % 2 else (" No", " Yes")
        script.class_logprobs(rf"(?s)GOOD.*Q{i} walk", {right: -0.05, wrong: -3.0})
        script.class_logprobs(rf"(?s)BAD.*Q{i} walk", {wrong: -0.05, right: -3.0})
    return script


def network(**training: object):
    net = network_from_text(DLN1)
    defaults = dict(iterations=2, batch_size=4, num_p_samples=3, backward_model="back", val_freq=1, seed=3)
    return _rebuild(net, TrainingSpec(**{**defaults, **training}))


def _rebuild(net, training: TrainingSpec):
    from dlngraph.graph import compile_network

    return compile_network(msgspec.structs.replace(net.spec, training=training))


async def fit(net, run: RunDirectory | None = None, state: TrainState | None = None, events: EventBus | None = None):
    async with ScriptedServer(script=script()) as server:
        models = scripted_models(net, server)
        try:
            trainer = Trainer(net, models, train=TRAIN, dev=DEV, test=DEV, labels=["Yes", "No"], run=run, events=events)
            return await trainer.fit(state)
        finally:
            await close_models(models)


async def test_training_finds_the_good_prompt_and_keeps_the_best(tmp_path) -> None:
    outcome = await fit(network())
    assert outcome.state.best_prompts == {"answer": "GOOD"}
    assert outcome.best_dev_accuracy == 1.0
    assert outcome.state.best_iteration == 1  # found by the first step (0 would be the initial prompts)
    assert outcome.test is not None and outcome.test.accuracy == 1.0
    assert outcome.stopped == "completed" and outcome.iterations_run == 2


async def test_the_run_directory_holds_events_checkpoint_and_state(tmp_path) -> None:
    run = RunDirectory.create(tmp_path, "dln1")
    events = EventBus()
    seen: list[str] = []
    events.subscribe(lambda event: seen.append(event.kind))
    outcome = await fit(network(), run=run, events=events)
    start, *records = run.read_events().records
    assert isinstance(start, StartRecord) and start.prompts == {"answer": "CURRENT"}
    assert start.dev_accuracy == outcome.initial_dev_accuracy is not None
    assert [record.iteration for record in records] == [0, 1]
    first = records[0]
    assert first.prompts == {"answer": "GOOD"}
    candidates = first.updates["answer"].candidates
    assert {c.prompt for c in candidates} == {"CURRENT", "GOOD", "BAD"}
    assert first.dev_accuracy == 1.0
    state = msgspec.json.decode(run.checkpoint_path.read_bytes(), type=TrainState)
    assert state.iteration == 2 and state.best_prompts == {"answer": "GOOD"}
    assert {"start", "iteration", "phase", "validation", "checkpoint", "done"} <= set(seen)


async def test_early_stop_after_validations_without_improvement() -> None:
    outcome = await fit(network(iterations=6, early_stop=1))
    # dev is perfect after the first iteration, then cannot improve: stop after 2 more.
    assert outcome.stopped == "early_stop"
    assert outcome.iterations_run == 3


async def test_resuming_from_a_checkpoint_ends_like_an_uninterrupted_run(tmp_path) -> None:
    whole = await fit(network(iterations=3, val_freq=1))
    run = RunDirectory.create(tmp_path, "dln1")
    partial_net = network(iterations=3, val_freq=1)
    first = await fit(_rebuild(partial_net, msgspec.structs.replace(partial_net.spec.training, iterations=1)), run=run)
    state = first.state
    state.stopped = "running"
    resumed = await fit(partial_net, run=run, state=state)
    assert resumed.state.best_prompts == whole.state.best_prompts
    assert resumed.best_dev_accuracy == whole.best_dev_accuracy
    assert resumed.state.dev_scores == whole.state.dev_scores


async def test_a_dev_gain_within_the_paired_test_s_noise_does_not_replace_the_best() -> None:
    """With `selection_z` beyond any 6-example gain, the perfect GOOD prompt is validated but the
    initial prompts stay the best; each validated set's per-example dev losses are kept."""
    strict = await fit(network(selection_z=100.0))
    assert strict.state.best_prompts == {"answer": "CURRENT"}
    assert any(sum(losses) == 0 for losses in strict.state.dev_losses.values())  # GOOD was validated
    assert all(len(losses) == len(DEV) for losses in strict.state.dev_losses.values())
    assert (await fit(network())).state.best_prompts == {"answer": "GOOD"}
