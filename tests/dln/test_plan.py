"""What one iteration will cost before it runs: calls per phase and rounds of latency."""

from __future__ import annotations

import time

import msgspec
import pytest

from dlngraph.bench.cases import synthetic_examples
from dlngraph.dln.plan import LaterStart, calls_per_iteration, dependency_depth, later_start_rounds, phase_start_rounds
from dlngraph.dln.step import StepSettings, TrainingStep
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import Latency, ScriptedServer
from tests.scripted import close_models, scripted_models, shipped_network

PAPER = TrainingSpec(batch_size=10, num_p_samples=10, num_h_samples=5, use_memory=2)


@pytest.mark.parametrize(
    ("spec", "rounds"),
    [
        ("dln1", 3),  # forward, proposals, scores
        ("dln2", 5),  # reason forward, posterior (beside answer forward), sharpening, proposals, scores
        ("deep4", 11),  # each hidden level waits for the h* of the level above: 2 rounds a level
        ("wide_ensemble", 3),
    ],
)
def test_dependency_depth_follows_the_steps_own_waits(spec: str, rounds: int) -> None:
    assert dependency_depth(shipped_network(spec)) == rounds


def test_each_phase_of_the_dln2_step_starts_in_its_first_possible_round() -> None:
    assert phase_start_rounds(shipped_network("dln2")) == {
        ("reason", "forward"): 0,
        ("answer", "forward"): 1,
        ("reason", "posterior"): 1,  # beside the answer's forward calls
        ("reason", "sharpening"): 2,  # its prior terms
        ("answer", "sharpening"): 2,  # the consumer's terms, tagged by the node they ask
        ("answer", "proposal"): 2,
        ("answer", "score"): 2,  # the known candidates, once the sharpening is sent
        ("reason", "score"): 2,
        ("reason", "proposal"): 3,  # after h*
    }


def test_the_proposed_candidates_scores_start_after_the_proposals() -> None:
    """dln2: the answer's proposals go out in round 2 and the reason's in round 3 (after h*);
    the 3 known candidates (current, 2 remembered) x 10 examples x 6 hidden states can be
    scored before, the proposed ones a round after their proposals."""
    assert later_start_rounds(shipped_network("dln2"), PAPER) == {
        ("answer", "score"): LaterStart(round=3, earlier_at_most=180),
        ("reason", "score"): LaterStart(round=4, earlier_at_most=180),
    }
    held_out = TrainingSpec(batch_size=10, num_p_samples=4, num_h_samples=0, held_out_prompt_ranking=True)
    assert later_start_rounds(shipped_network("dln1"), held_out) == {("answer", "score"): LaterStart(round=2, earlier_at_most=5)}


@pytest.mark.parametrize("spec", ["dln1", "dln2", "deep4", "wide_ensemble"])
def test_every_phase_starts_before_the_step_can_end(spec: str) -> None:
    network = shipped_network(spec)
    starts = phase_start_rounds(network)
    assert max(starts.values()) < dependency_depth(network)
    assert {node for node, phase in starts if phase == "forward"} == set(network.lm_nodes)


def test_rewriting_only_wrong_examples_waits_for_the_whole_forward_pass() -> None:
    network = shipped_network("dln2")
    assert dependency_depth(network, TrainingSpec(rewrite_loss_only=True)) == 6


def test_each_later_round_of_a_hidden_nodes_proposals_adds_its_proposals_and_scores() -> None:
    """`num_p1_steps: 3`: the reason node proposes and ranks twice more, each time from the
    last round's best prompt, so its update comes 2 x 2 rounds later and its proposal and
    score calls count three times."""
    network = shipped_network("dln2")
    assert dependency_depth(network, TrainingSpec(num_p1_steps=3)) == 5 + 2 * 2
    once, thrice = calls_per_iteration(network, PAPER), calls_per_iteration(network, msgspec.structs.replace(PAPER, num_p1_steps=3))
    assert thrice["proposal"] == once["proposal"] + 2 * 9  # the reason node's 9 proposals, twice more
    assert thrice["score"] == once["score"] + 2 * 10 * 6 * 12
    assert {phase: thrice[phase] for phase in ("forward", "posterior", "sharpening")} == {
        phase: once[phase] for phase in ("forward", "posterior", "sharpening")}


def test_calls_of_the_paper_dln2_step() -> None:
    calls = calls_per_iteration(shipped_network("dln2"), PAPER)
    assert calls["forward"] == 20
    assert calls["posterior"] == 50
    assert calls["sharpening"] == 120  # 60 consumer likelihoods + 60 priors
    assert calls["proposal"] == 18
    assert calls["score"] == 2 * 10 * 6 * 12  # per node: examples x samples x candidates


LATENCY_S = 0.04


@pytest.mark.parametrize(
    ("spec", "training"),
    [
        ("dln2", {}),
        ("dln2", {"rewrite_loss_only": True}),
        ("deep4", {}),
        ("deep4", {"num_h_samples": 0}),
        ("deep4", {"rewrite_loss_only": True}),
        ("wide_ensemble", {}),
        ("dln2", {"use_h_argmax": True}),
        ("deep4", {"use_h_argmax": True}),
        ("dln2", {"num_p1_steps": 2}),
    ],
)
async def test_no_call_of_a_real_step_starts_before_its_planned_round(spec: str, training: dict[str, object]) -> None:
    """The rounds are lower bounds the benchmark relies on: with every request taking the
    same latency, a call planned for round r waits for a chain of r requests before it, so it
    cannot start before r latencies (a slow machine only starts it later). Every tag the step
    uses is planned, and the step lasts at least its dependency depth."""
    network = shipped_network(spec)
    step_training = TrainingSpec(**{"num_p_samples": 3, "num_h_samples": 2, "use_memory": 1, "seed": 3, **training})
    starts, later = phase_start_rounds(network, step_training), later_start_rounds(network, step_training)
    first: dict[tuple[str, str], float] = {}
    started: dict[tuple[str, str], list[float]] = {}

    def seen(event: str, _: str, tag) -> None:
        first.setdefault((tag.node, tag.phase), time.perf_counter() - began)
        if event == "start":
            started.setdefault((tag.node, tag.phase), []).append(time.perf_counter() - began)

    async with ScriptedServer(latency=Latency(mean_s=LATENCY_S, jitter=0.0)) as server:
        models = scripted_models(network, server)
        began = time.perf_counter()
        for stats in {id(model.stats): model.stats for model in models.values()}.values():
            stats.subscribe(seen)
        try:
            memory = {node: [f"remembered {node}"] for node in network.trainable}
            await TrainingStep(network, models, synthetic_examples(3), StepSettings(training=step_training, iteration=0, memory=memory)).run()
        finally:
            await close_models(models)
        elapsed = time.perf_counter() - began
    assert set(first) <= set(starts), f"tags the plan does not know: {set(first) - set(starts)}"
    early = {tag: (round(seconds / LATENCY_S, 2), starts[tag]) for tag, seconds in first.items() if seconds < starts[tag] * LATENCY_S - 0.005}
    assert not early, f"started before their planned round (rounds elapsed, planned): {early}"
    too_many = {
        tag: (sum(seconds < split.round * LATENCY_S - 0.005 for seconds in started[tag]), split)
        for tag, split in later.items() if tag in started
    }
    assert all(count <= split.earlier_at_most for count, split in too_many.values()), too_many
    assert elapsed >= dependency_depth(network, step_training) * LATENCY_S - 0.005
