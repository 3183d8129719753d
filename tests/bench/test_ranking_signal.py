"""benchmarks/bench_ranking_signal.py: which steps' dev change is their own, and their margin."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.dln.run_format import Candidate, IterationRecord, NodeUpdate, Shortlisted, StartRecord
from dlngraph.dln.rundir import RunDirectory
from tests.bench import load_benchmark


def step(iteration: int, scores: list[float], chosen: int, dev: float | None) -> IterationRecord:
    candidates = [Candidate(prompt=f"p{i}", origin="current" if i == 0 else "proposal", score=score)
                  for i, score in enumerate(scores)]
    update = NodeUpdate(node="answer", role="scored", method="logprobs", candidates=candidates, chosen=chosen)
    return IterationRecord(iteration=iteration, updates={"answer": update}, dev_accuracy=dev)


def test_only_changes_validated_right_after_the_last_validation_count(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "demo-dln1-20261206-120000")
    run.path.mkdir()
    run.append_event(StartRecord(prompts={"answer": "p0"}, dev_accuracy=0.5))
    run.append_event(step(0, [-1.0, -0.5], chosen=1, dev=0.6))   # changed, validated: counts
    run.append_event(step(1, [-0.5, -0.9], chosen=0, dev=0.6))   # kept the current: no change
    run.append_event(step(2, [-0.5, -0.2], chosen=1, dev=None))  # not validated
    run.append_event(step(3, [-0.2, -0.1], chosen=1, dev=0.4))   # dev change of steps 2 and 3
    run.append_event(step(4, [-0.3, 0.0], chosen=1, dev=0.7))    # counts
    module = load_benchmark("bench_ranking_signal")
    assert module.step_changes(run.path) == [
        ("answer", pytest.approx(0.5), pytest.approx(0.1)), ("answer", pytest.approx(0.3), pytest.approx(0.3))]
    assert module.changes_by_group(tmp_path) == {
        "demo-dln1 answer": [(pytest.approx(0.3), pytest.approx(0.3)), (pytest.approx(0.5), pytest.approx(0.1))]}


def test_with_a_shortlist_the_change_is_the_choice_s_and_the_next_starts_from_the_kept(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path / "demo-dln1-20261206-120000")
    run.path.mkdir()
    run.append_event(StartRecord(prompts={"answer": "p0"}, dev_accuracy=0.5))
    first = step(0, [-1.0, -0.5, -0.7], chosen=1, dev=0.7)  # the runner-up kept, at 0.7
    first.shortlist = [Shortlisted(choices={"answer": 1}, dev_accuracy=0.4),
                       Shortlisted(choices={"answer": 2}, dev_accuracy=0.7, kept=True)]
    run.append_event(first)
    run.append_event(step(1, [-0.5, -0.4], chosen=1, dev=0.8))
    module = load_benchmark("bench_ranking_signal")
    assert module.step_changes(run.path) == [
        ("answer", pytest.approx(0.5), pytest.approx(-0.1)), ("answer", pytest.approx(0.1), pytest.approx(0.1))]


def test_rank_correlation() -> None:
    module = load_benchmark("bench_ranking_signal")
    assert module.spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0]) == pytest.approx(0.5)
    assert module.spearman([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert module.spearman([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.1, 0.1]) == pytest.approx(0.8944, abs=1e-4)  # ties: mean ranks
