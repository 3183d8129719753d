"""`dlngraph train`, `eval` and `--resume` as a user runs them: real subprocesses against a
scripted OpenAI-compatible server in its own process."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlngraph.spec.loader import load_spec
from dlngraph.testing.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
DLN2 = ROOT / "specs" / "dln2.yaml"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A scripted server subprocess with a little latency, so a run can be killed mid-way."""
    with ServerProcess("--latency-ms", "15") as server:
        yield server.base_url


def dlngraph(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "dlngraph.cli.main", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def start_training(runs: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dlngraph.cli.main", "train", str(DLN2), "--base-url", url, "--runs", str(runs),
         "--set", "iterations=4", "--set", "val_freq=1", "--progress", "quiet", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )


def only_run(runs: Path) -> Path:
    (run,) = list(runs.iterdir())
    return run


def comparable(run: Path) -> dict:
    """What must match between two runs: summary metrics and every logged choice."""
    summary = json.loads((run / "summary.json").read_text())
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    return {
        "summary": {key: summary[key] for key in ("best_prompts", "best_dev_accuracy", "test_accuracy", "iterations_run", "stopped")},
        "start": [event["dev_accuracy"] for event in events if event.get("kind") == "start"],
        "events": [{key: event[key] for key in ("iteration", "prompts", "updates", "batch_loss", "dev_accuracy")}
                   for event in events if event.get("kind") != "start"],
        "final": (run / "final.yaml").read_text(),
    }


def wait_for_checkpoint(run_root: Path, process: subprocess.Popen[str], iteration: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for checkpoint in run_root.glob("*/checkpoint.json"):
            if json.loads(checkpoint.read_text())["iteration"] >= iteration:
                return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_result(tmp_path: Path, server_url: str) -> None:
    whole = start_training(tmp_path / "whole", server_url)
    assert whole.wait(timeout=300) == 0, whole.communicate()

    killed = start_training(tmp_path / "killed", server_url)
    wait_for_checkpoint(tmp_path / "killed", killed, iteration=2)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    run = only_run(tmp_path / "killed")
    assert not (run / "summary.json").exists(), "the run finished before it could be killed"

    assert f"base_url: {server_url}" in (run / "spec.yaml").read_text()  # where its calls went
    dlngraph("train", "--resume", str(run), "--progress", "quiet")  # so no --base-url is needed
    assert comparable(run) == comparable(only_run(tmp_path / "whole"))

    finished = json.loads((run / "summary.json").read_text())
    dlngraph("train", "--resume", str(run), "--progress", "quiet")  # a finished run: nothing more to spend
    again = json.loads((run / "summary.json").read_text())
    assert again["requests"] == finished["requests"] > 0  # the cost of every session, not of the last one
    assert again["wall_time_s"] > finished["wall_time_s"]


def test_eval_of_the_final_spec_reproduces_the_reported_dev_accuracy(tmp_path: Path, server_url: str) -> None:
    dlngraph("train", str(DLN2), "--base-url", server_url, "--runs", str(tmp_path), "--set", "iterations=2", "--progress", "quiet")
    run = only_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    result = dlngraph("eval", str(run / "final.yaml"), "--split", "dev", "--base-url", server_url, "--json")
    report = json.loads(result.stdout)
    assert report["rows"][0]["accuracy"] == summary["best_dev_accuracy"]


def test_budget_stops_the_run_cleanly_at_a_checkpoint(tmp_path: Path, server_url: str) -> None:
    result = dlngraph("train", str(DLN2), "--base-url", server_url, "--runs", str(tmp_path), "--budget", "calls=150", "--set", "iterations=4",
                      "--progress", "lines", "--no-cache")
    run = only_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "budget"
    assert summary["requests"] - summary["retries"] <= 150  # the budget counts calls sent, not their retries
    checkpoint = json.loads((run / "checkpoint.json").read_text())
    assert checkpoint["iteration"] == summary["iterations_run"] >= 1
    assert "budget reached" in result.stdout


def test_a_resumed_runs_lines_show_its_start_score(tmp_path: Path, server_url: str) -> None:
    dlngraph("train", str(DLN2), "--base-url", server_url, "--runs", str(tmp_path), "--budget", "calls=150",
             "--set", "iterations=4", "--set", "val_freq=1", "--progress", "quiet")
    run = only_run(tmp_path)
    lines = dlngraph("train", "--resume", str(run), "--progress", "lines").stdout.splitlines()
    start = f"{json.loads((run / 'summary.json').read_text())['initial_dev_accuracy']:.3f}"
    assert re.fullmatch(rf"\[.*\] resumed after iteration \d: dev {start} at start", lines[0])
    assert all(f"(start={start})" in line for line in lines if "] iteration " in line)
    (done,) = [line for line in lines if "] done: " in line]
    assert re.fullmatch(rf"\[.*\] done: completed, dev {start} at start -> \d\.\d{{3}} best, test=\d\.\d{{3}}", done)


def test_dry_run_prints_calls_per_phase_without_calling_anything() -> None:
    result = dlngraph("train", str(DLN2), "--dry-run", "--set", "batch_size=10")
    assert re.search(r"forward\s+20\b", result.stdout)
    assert "dependency depth of one step: 5" in result.stdout


def test_the_dry_run_counts_every_shortlisted_network_s_dev_pass() -> None:
    settings = ["--set", "iterations=2", "--set", "val_freq=1"]
    one = dlngraph("train", str(DLN2), "--dry-run", *settings)
    three = dlngraph("train", str(DLN2), "--dry-run", *settings, "--set", "validate_top=3")
    assert "for each of 3 networks" in three.stdout and "networks" not in one.stdout

    def validation_calls(stdout: str) -> int:
        return int(re.search(r"\+ (\d+) validation calls", stdout).group(1))

    per_pass = int(re.search(r"validation\s+(\d+)", one.stdout).group(1))
    assert validation_calls(three.stdout) - validation_calls(one.stdout) == 2 * 2 * per_pass  # 2 more, 2 steps


def test_bad_overrides_and_arguments_are_clear_errors(tmp_path: Path) -> None:
    result = dlngraph("train", str(DLN2), "--set", "iteratons=3", "--dry-run", check=False)
    assert result.returncode == 1 and "training has no field 'iteratons'" in result.stderr
    result = dlngraph("train", str(DLN2), "--set", "batch_size=many", "--dry-run", check=False)
    assert result.returncode == 1 and "--set: training.batch_size: expected an integer, found string 'many'" in result.stderr
    result = dlngraph("train", check=False)
    assert result.returncode == 1 and "--resume" in result.stderr
    result = dlngraph("train", "--resume", str(tmp_path), check=False)
    assert result.returncode == 1 and "not a run directory" in result.stderr
    result = dlngraph("train", str(DLN2), "--set", "batch_size=0", "--dry-run", check=False)
    assert result.returncode == 1 and "training.batch_size: expected a value >= 1, found 0" in result.stderr
    result = dlngraph("train", str(DLN2), "--set", "backward_model=nope", "--dry-run", check=False)
    assert result.returncode == 1 and "backward_model" in result.stderr and "nope" in result.stderr
    result = dlngraph("train", "--resume", str(tmp_path), "--set", "iterations=9", check=False)
    assert result.returncode == 1 and "a resumed run keeps the spec it started with" in result.stderr


def test_a_model_that_cannot_be_asked_is_named_with_the_cause(tmp_path: Path, server_url: str) -> None:
    """Every call fails (the key's variable is not set): the run stops with the first failure,
    not an internal error, and eval exits non-zero saying the same."""
    text = (ROOT / "specs" / "dln1.yaml").read_text()
    text = text.replace("    backend: local", f"    backend: openai\n    base_url: {server_url}\n    api_key_env: DLNGRAPH_TEST_UNSET_KEY")
    spec = tmp_path / "keyed.yaml"
    spec.write_text(text)
    result = dlngraph("train", str(spec), "--runs", str(tmp_path / "runs"), "--set", "iterations=1", "--progress", "quiet", check=False)
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr
    assert "error: every example of the batch failed in the forward pass; the first failure: node 'answer' on example 0:" in result.stderr
    assert "DLNGRAPH_TEST_UNSET_KEY" in result.stderr
    result = dlngraph("eval", str(spec), "--limit", "3", check=False)
    assert result.returncode == 1
    assert "spec: every example failed (counted as wrong); the first failure: node 'answer'" in result.stderr
    assert "DLNGRAPH_TEST_UNSET_KEY" in result.stderr


def test_ctrl_c_says_how_to_resume_the_run(tmp_path: Path, server_url: str) -> None:
    process = start_training(tmp_path, server_url)
    wait_for_checkpoint(tmp_path, process, iteration=1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert f"continue from the last checkpoint with: dlngraph train --resume {only_run(tmp_path)}" in stderr


def test_a_spec_whose_data_cannot_load_leaves_no_run_behind(tmp_path: Path) -> None:
    spec = tmp_path / "typo.yaml"
    spec.write_text((ROOT / "specs" / "dln1.yaml").read_text().replace("task: navigate", "task: navigat"))
    result = dlngraph("train", str(spec), "--runs", str(tmp_path / "runs"), "--progress", "quiet", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: data.task: unknown task 'navigat'")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("calls", [110, 200])
def test_a_budget_stop_resumes_to_the_same_run_and_the_same_total_cost(tmp_path: Path, server_url: str, calls: int) -> None:
    """110 calls run out inside a forward pass (a validation or a step's), 200 inside a step's
    backward pass: either way the run stops cleanly, no half-done pass is recorded as a
    result, and the resumed run ends as an uninterrupted one, having cost as much (give or take
    the requests the stop cut short)."""
    whole = start_training(tmp_path / "whole", server_url)
    assert whole.wait(timeout=300) == 0, whole.communicate()
    stopped = dlngraph("train", str(DLN2), "--base-url", server_url, "--runs", str(tmp_path / "stopped"), "--budget",
                       f"calls={calls}", "--set", "iterations=4", "--set", "val_freq=1", "--progress", "quiet")
    run = only_run(tmp_path / "stopped")
    assert json.loads((run / "summary.json").read_text())["stopped"] == "budget", stopped.stdout
    dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert comparable(run) == comparable(only_run(tmp_path / "whole"))
    resumed, uninterrupted = (json.loads((path / "summary.json").read_text())["requests"] for path in (run, only_run(tmp_path / "whole")))
    # Every call sent counts once; requests in flight when the budget stopped the run were never
    # answered (so not cached), and are sent again by the resume: at most one per model's slot.
    in_flight = sum(model.limits.max_concurrency for model in load_spec(DLN2).spec.models.values())
    assert uninterrupted <= resumed <= uninterrupted + in_flight
