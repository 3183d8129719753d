"""Validating a step's best few networks on dev (`validate_top`): which ones, and that training
goes on from the one dev prefers, on a scripted server."""

from __future__ import annotations

import msgspec

from dlngraph.dln.plan import validation_passes
from dlngraph.dln.run_format import Candidate, IterationRecord, NodeUpdate
from dlngraph.dln.rundir import RunDirectory
from dlngraph.dln.shortlist import network_of, shortlist
from dlngraph.dln.trainer import Trainer
from dlngraph.graph import compile_network
from dlngraph.report.run_report import candidates_section
from dlngraph.report.runlog import read_run
from dlngraph.report.tables import prompt_history, top_candidates
from dlngraph.spec.nodes import Demonstration
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import Script, ScriptedServer
from tests.scripted import DLN1, Example, close_models, network_from_text, scripted_models


def update(node: str, scores: list[float], chosen: int, prompts: list[str] | None = None) -> NodeUpdate:
    prompts = prompts or [f"{node}{index}" for index in range(len(scores))]
    candidates = [Candidate(prompt=prompt, origin="proposal", score=score) for prompt, score in zip(prompts, scores, strict=True)]
    return NodeUpdate(node=node, role="scored", method="logprobs", candidates=candidates, chosen=chosen)


def choices_of(updates: dict[str, NodeUpdate], size: int) -> list[dict[str, int]]:
    """The shortlisted networks as their candidates' indices, in order."""
    return [choices for choices, _ in shortlist(updates, size, {}, {}).values()]


def test_one_node_s_shortlist_is_its_best_candidates_by_score() -> None:
    updates = {"answer": update("answer", [-3.0, -1.0, -2.0, -0.5], chosen=3)}
    assert choices_of(updates, 3) == [{"answer": 3}, {"answer": 1}, {"answer": 2}]
    assert choices_of(updates, 1) == [{"answer": 3}]
    assert len(choices_of(updates, 10)) == 4


def test_the_step_s_choice_comes_first_even_when_a_penalty_made_it() -> None:
    """`chosen` is what the step picked; the shortlist never second-guesses it for first place."""
    updates = {"answer": update("answer", [-1.0, -2.0, -3.0], chosen=1)}
    assert choices_of(updates, 2) == [{"answer": 1}, {"answer": 0}]


def test_two_nodes_take_turns_rank_by_rank_each_beside_the_other_s_choice() -> None:
    updates = {"notes": update("notes", [-1.0, -2.0, -3.0], chosen=0),
               "answer": update("answer", [-2.0, -1.0, -3.0], chosen=1)}
    assert choices_of(updates, 4) == [
        {"notes": 0, "answer": 1},
        {"notes": 1, "answer": 1},
        {"notes": 0, "answer": 0},
        {"notes": 2, "answer": 1},
    ]


def test_a_candidate_equal_to_a_shortlisted_one_is_not_validated_twice() -> None:
    """A proposal repeating the current prompt is the same network: it takes no place."""
    updates = {"answer": update("answer", [-1.0, -1.5, -2.0], chosen=0, prompts=["SAME", "SAME", "OTHER"])}
    assert choices_of(updates, 2) == [{"answer": 0}, {"answer": 2}]


def test_a_shortlisted_network_replaces_only_its_trained_nodes() -> None:
    shown = [Demonstration(input="x", output="y")]
    answer = update("answer", [-1.0, -2.0], chosen=0)
    answer.candidates[1].demonstrations = shown
    prompts, demonstrations = network_of({"answer": answer}, {"answer": 1},
                                         {"answer": "old", "frozen": "kept"}, {"answer": [], "frozen": []})
    assert prompts == {"answer": "answer1", "frozen": "kept"}
    assert demonstrations == {"answer": shown, "frozen": []}


def test_the_dry_run_counts_a_dev_pass_per_shortlisted_network() -> None:
    training = TrainingSpec(iterations=4, val_freq=1, do_first_eval=True)
    assert validation_passes(training) == 5
    assert validation_passes(msgspec.structs.replace(training, validate_top=3)) == 1 + 4 * 3


# --- the trainer, on a scripted server ---------------------------------------------------------

TRAIN = [Example(f"Q{i} walk", "Yes" if i % 2 else "No") for i in range(8)]
DEV = [Example(f"Q{i} walk", "Yes" if i % 2 else "No") for i in range(8, 14)]


def script(good: str = "GOOD") -> Script:
    """From CURRENT, two proposals. On the training examples LUCKY is right and sure, GOOD right
    less surely, CURRENT wrong: the batch ranks them in that order. On dev, only `good` is right."""
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", "LUCKY", "GOOD")
    on_train = {"LUCKY": (-0.01, -5.0), "GOOD": (-0.5, -1.0), "CURRENT": (-1.0, -0.5)}  # (right, wrong)
    for i in range(14):
        right, wrong = (" Yes", " No") if i % 2 else (" No", " Yes")
        for prompt, (if_right, if_wrong) in on_train.items():
            if i >= 8:  # dev
                if_right, if_wrong = (-0.05, -3.0) if prompt == good else (-3.0, -0.05)
            script.class_logprobs(rf"(?s){prompt}.*Q{i} walk", {right: if_right, wrong: if_wrong})
    return script


async def fit(validate_top: int, run: RunDirectory | None = None, good: str = "GOOD"):
    net = network_from_text(DLN1)
    training = TrainingSpec(iterations=1, batch_size=8, num_p_samples=3, backward_model="back", val_freq=1,
                            seed=3, validate_top=validate_top)
    net = compile_network(msgspec.structs.replace(net.spec, training=training))
    async with ScriptedServer(script=script(good)) as server:
        models = scripted_models(net, server)
        try:
            return await Trainer(net, models, train=TRAIN, dev=DEV, test=DEV, labels=["Yes", "No"], run=run).fit()
        finally:
            await close_models(models)


async def test_validating_the_choice_alone_goes_on_from_what_the_batch_preferred() -> None:
    outcome = await fit(validate_top=1)
    assert outcome.state.prompts == {"answer": "LUCKY"}
    assert outcome.state.best_prompts == {"answer": "CURRENT"}  # LUCKY is no better on dev


async def test_the_runner_up_that_dev_prefers_is_kept_and_logged(tmp_path) -> None:
    run = RunDirectory.create(tmp_path, "dln1")
    outcome = await fit(validate_top=2, run=run)
    assert outcome.state.prompts == outcome.state.best_prompts == {"answer": "GOOD"}
    assert outcome.best_dev_accuracy == 1.0 and outcome.test is not None and outcome.test.accuracy == 1.0
    record = run.read_events().records[-1]
    assert isinstance(record, IterationRecord)
    update = record.updates["answer"]
    assert update.prompt == "LUCKY"  # the batch's choice, as the step made it
    assert record.prompts == {"answer": "GOOD"} and record.dev_accuracy == 1.0
    validated = [(update.candidates[entry.choices["answer"]].prompt if entry.choices else "before the step",
                  entry.dev_accuracy, entry.kept) for entry in record.shortlist]
    assert validated == [("LUCKY", 0.0, False), ("GOOD", 1.0, True), ("before the step", 0.0, False)]


async def test_training_goes_back_to_the_network_before_the_step_when_dev_rates_it_above_the_shortlist(tmp_path) -> None:
    """CURRENT, right everywhere, is ranked last on the batch; the two proposals shortlisted are
    wrong on dev. The network before the step, validated at the start, competes for free."""
    run = RunDirectory.create(tmp_path, "dln1")
    outcome = await fit(validate_top=2, run=run, good="CURRENT")
    assert outcome.state.prompts == outcome.state.best_prompts == {"answer": "CURRENT"}
    record = run.read_events().records[-1]
    assert isinstance(record, IterationRecord)
    assert [(entry.choices, entry.dev_accuracy, entry.kept) for entry in record.shortlist][-1] == ({}, 1.0, True)
    assert record.prompts == {"answer": "CURRENT"} and record.dev_accuracy == 1.0
    after_step = prompt_history(read_run(run.path))[-1].cells["answer"]
    assert (after_step.prompt, after_step.score, after_step.origin) == ("CURRENT", None, None)  # not LUCKY's


async def test_the_current_prompts_can_be_shortlisted_beside_the_proposals() -> None:
    """With three, the current prompts are shortlisted too, and each network is scored once."""
    outcome = await fit(validate_top=3)
    assert outcome.state.best_prompts == {"answer": "GOOD"}
    assert sorted(outcome.state.dev_scores.values()) == [0.0, 0.0, 1.0]  # CURRENT, LUCKY, GOOD: once each


async def test_the_report_shows_each_validated_candidate_s_dev_accuracy_and_the_one_kept(tmp_path) -> None:
    run = RunDirectory.create(tmp_path, "dln1")
    await fit(validate_top=2, run=run)
    log = read_run(run.path)
    after_step = prompt_history(log)[-1].cells["answer"]
    assert (after_step.prompt, after_step.origin) == ("GOOD", "proposal")  # not the choice, LUCKY
    iteration = log.iterations[-1]
    ranked = {row.candidate.prompt: row for row in top_candidates(iteration.updates["answer"], 3, iteration.shortlist)}
    assert (ranked["LUCKY"].chosen, ranked["LUCKY"].dev_accuracy, ranked["LUCKY"].kept) == (True, 0.0, False)
    assert (ranked["GOOD"].chosen, ranked["GOOD"].dev_accuracy, ranked["GOOD"].kept) == (False, 1.0, True)
    assert ranked["CURRENT"].dev_accuracy is None  # ranked, not shortlisted
    section = str(candidates_section(log, 3))
    assert "<th>dev</th>" in section and "1.000 kept" in section
