"""Reading run directories back, finished, unfinished or damaged, and the numbers derived."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from dlngraph.dln.run_format import Counts, EndpointCounts, Usage
from dlngraph.report import series
from dlngraph.report.facts import UNFINISHED, run_facts
from dlngraph.report.runlog import NotARunDirectory, read_run
from dlngraph.report.tables import prompt_history, top_candidates, usage_rows
from dlngraph.report.usage import add, breakdowns, summed
from tests.report.conftest import GOOD


def test_a_finished_run_reads_with_its_summary_and_typed_updates(finished_run: Path) -> None:
    run = read_run(finished_run)
    assert run.problems == []
    assert [it.steps_done for it in run.iterations] == [1, 2, 3]
    assert run.nodes == ["reason", "answer"]
    update = run.iterations[0].updates["reason"]
    assert update.role == "hidden" and update.candidates[update.chosen].prompt == run.iterations[0].prompts["reason"]
    assert run.summary is not None and run.summary.iterations_run == 3
    assert run_facts(run).tokens == run.summary.prompt_tokens + run.summary.completion_tokens


def test_an_unfinished_run_is_described_from_its_log(unfinished_run: Path) -> None:
    run = read_run(unfinished_run)
    assert run.summary is None
    assert any("summary.json is missing" in problem for problem in run.problems)
    facts = run_facts(run)
    assert facts.status == UNFINISHED and facts.iterations == 3
    assert facts.best_dev_accuracy == 1.0 and facts.test_accuracy is None
    assert run.start is not None and facts.initial_dev_accuracy == run.start.dev_accuracy
    logged = [run.start.usage, *(it.usage for it in run.iterations)]  # the start's validation, then the steps
    assert facts.calls == sum(usage.total.calls for usage in logged) > 0
    assert facts.requests == sum(usage.total.requests for usage in logged) > 0


def test_a_line_cut_by_a_crash_and_a_line_of_another_shape_do_not_stop_reading(unfinished_run: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(unfinished_run, damaged)
    lines = (damaged / "events.jsonl").read_text().splitlines()
    (damaged / "events.jsonl").write_text('{"no_iteration": 1}\n' + "\n".join(lines) + '\n{"iteration": 3, "prom')
    run = read_run(damaged)
    assert [it.iteration for it in run.iterations] == [0, 1, 2]
    assert any("line 1 skipped" in problem for problem in run.problems)


def test_a_run_that_just_started_has_no_iterations_but_reads(finished_run: Path, tmp_path: Path) -> None:
    shutil.copy(finished_run / "spec.yaml", tmp_path / "spec.yaml")
    run = read_run(tmp_path)
    assert run.iterations == [] and run.network is not None
    assert run_facts(run).iterations == 0 and run_facts(run).calls is None
    assert series.dev_accuracy(run).x == []


def test_a_folder_that_is_no_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotARunDirectory, match="not a run directory"):
        read_run(tmp_path)


def test_curves_skip_unvalidated_steps_and_start_from_the_initial_dev_accuracy(finished_run: Path, unfinished_run: Path) -> None:
    finished = read_run(finished_run)
    assert finished.summary is not None and finished.summary.initial_dev_accuracy is not None
    assert series.dev_accuracy(finished).x == [0, 1, 2, 3]
    tokens = series.dev_accuracy_by_tokens(finished).x
    assert tokens == sorted(tokens) and tokens[-1] == series.cumulative_tokens(finished)[-1] > 0
    unfinished = read_run(unfinished_run)  # val_freq=2 over 3 steps: validated at the start, after steps 2 and 3
    assert unfinished.start is not None
    assert series.dev_accuracy(unfinished) == series.Series("dev accuracy", [0, 2, 3], [unfinished.start.dev_accuracy, 1.0, 1.0])
    assert [line.label for line in series.chosen_elbo(finished)] == ["reason", "answer"]


def test_prompt_history_marks_the_prompts_that_changed(unfinished_run: Path) -> None:
    rows = prompt_history(read_run(unfinished_run))
    assert [row.label for row in rows] == ["start", "1", "2", "3"]
    assert rows[0].cells["answer"].prompt == "CURRENT" and rows[0].cells["answer"].score is None
    assert rows[1].cells["answer"].prompt == GOOD and rows[1].cells["answer"].changed
    assert rows[1].cells["answer"].origin == "proposal"
    assert not rows[2].cells["answer"].changed


def test_top_candidates_are_the_best_scores_first(unfinished_run: Path) -> None:
    update = read_run(unfinished_run).iterations[0].updates["answer"]
    ranked = top_candidates(update, 2)
    assert [r.rank for r in ranked] == [1, 2]
    assert ranked[0].chosen and ranked[0].candidate.prompt == GOOD
    assert ranked[0].candidate.score >= ranked[1].candidate.score


def test_usage_records_sum_and_break_down() -> None:
    first = Usage(total=Counts(calls=2, prompt_tokens=10), by_node={"a": Counts(calls=2)}, in_flight=1)
    second = Usage(total=Counts(calls=1, completion_tokens=5), by_node={"b": Counts(calls=1)})
    total = summed([first, second, Usage()])
    assert total.total == Counts(calls=3, prompt_tokens=10, completion_tokens=5)
    assert breakdowns(total) == {"phase": {}, "node": {"a": Counts(calls=2), "b": Counts(calls=1)}, "model": {}}
    assert total.total.requests == 0 and total.in_flight == 1
    assert summed([]) == Usage() and total.by_endpoint is msgspec.UNSET
    replica = {"http://a": EndpointCounts(requests=2, latency_s=0.5)}
    assert add(Usage(by_endpoint=replica), Usage(by_endpoint=replica)).by_endpoint == {
        "http://a": EndpointCounts(requests=4, latency_s=1.0)}
    rows = usage_rows({"a": Counts(prompt_tokens=1), "b": Counts(prompt_tokens=5, completion_tokens=1)})
    assert [(row.name, row.counts["tokens"]) for row in rows] == [("b", 6), ("a", 1)]
