"""`dlngraph train` and `demo`: arguments checked before any work, help, and how results read."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from dlngraph.cli.main import main
from dlngraph.cli.progress import Mode
from dlngraph.cli.train import print_summary
from dlngraph.runs import RunSummary
from dlngraph.words import plural

SPEC = str(Path(__file__).resolve().parents[2] / "specs" / "dln1.yaml")


@pytest.mark.parametrize("budget", ["dollars=5", "calls=-1", "100", "calls=", "tokens=1e3", "calls=²"])
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_bad_budget_is_a_usage_error_with_or_without_dry_run(
    budget: str, dry_run: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", SPEC, "--runs", str(tmp_path), "--budget", budget, *(["--dry-run"] if dry_run else [])]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "usage: dlngraph train" in err
    assert f"argument --budget: expected calls=N or tokens=N with N a whole number, got {budget!r}" in err
    assert list(tmp_path.iterdir()) == []


def test_a_good_budget_passes_the_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", SPEC, "--dry-run", "--budget", "calls=5", "--budget", "tokens=0"]) == 0
    assert "calls/iteration" in capsys.readouterr().out


@pytest.mark.parametrize("dry_run", [True, False])
def test_resuming_a_missing_directory_says_it_does_not_exist(
    dry_run: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "does-not-exist"
    assert main(["train", "--resume", str(missing), *(["--dry-run"] if dry_run else [])]) == 1
    assert capsys.readouterr().err.strip() == f"error: --resume {missing}: the run directory does not exist"


def test_resuming_a_file_says_it_is_not_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "spec.yaml"
    file.write_text("name: x\n")
    assert main(["train", "--resume", str(file)]) == 1
    assert capsys.readouterr().err.strip() == f"error: --resume {file}: not a directory"


@pytest.mark.parametrize("command", ["train", "demo"])
def test_progress_modes_are_explained_in_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    help_of_progress = text.split("--progress {auto,rich,lines,json,quiet}", 2)[2]
    for mode in get_args(Mode):
        assert f"{mode} (" in help_of_progress


def test_plural() -> None:
    assert [plural(n, "iteration") for n in (0, 1, 2)] == ["0 iterations", "1 iteration", "2 iterations"]


def summary(stopped: str, iterations: int) -> RunSummary:
    return RunSummary(
        name="dln1", run_dir="runs/dln1-1", stopped=stopped, iterations_run=iterations, initial_dev_accuracy=0.5,
        best_dev_accuracy=0.75, best_iteration=1, test_accuracy=0.5, best_prompts={}, calls=3, cache_hits=0,
        prompt_tokens=10, completion_tokens=2, wall_time_s=1.0,
    )


@pytest.mark.parametrize(
    ("stopped", "iterations", "reads"),
    [("completed", 1, "(completed after 1 iteration)"), ("budget", 2, "(stopped by the budget after 2 iterations)"),
     ("early_stop", 3, "(stopped early after 3 iterations)")],
)
def test_the_summary_says_how_and_when_the_run_stopped(
    stopped: str, iterations: int, reads: str, capsys: pytest.CaptureFixture[str]
) -> None:
    print_summary(summary(stopped, iterations))
    assert capsys.readouterr().out.splitlines()[0] == f"run:        runs/dln1-1  {reads}"


@pytest.mark.parametrize(
    ("settings", "header", "validation"),
    [(["iterations=1", "val_freq=1"], "dln1: 1 iteration,", "(every iteration)"),
     (["iterations=4", "val_freq=2"], "dln1: 4 iterations,", "(every 2 iterations)")],
)
def test_the_dry_run_counts_in_words(
    settings: list[str], header: str, validation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", SPEC, "--dry-run", *(arg for setting in settings for arg in ("--set", setting))]) == 0
    out = capsys.readouterr().out
    assert out.startswith(header)
    assert next(line for line in out.splitlines() if line.startswith("validation")).endswith(validation)


def test_an_unknown_option_after_the_command_shows_the_commands_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "specs/dln2.yaml", "--iterations", "2"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: dlngraph train") and "unrecognized arguments: --iterations 2" in error


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--api-key-env", "MY_KEY"], "--api-key-env names the key of the --base-url server: give --base-url too"),
        (["--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "sk-live-abc123"],
         "--api-key-env takes the NAME of an environment variable"),
        (["--base-url", "http://127.0.0.1:9/v1", "--api-key-env", "DLNGRAPH_TEST_NOT_SET"],
         "--api-key-env DLNGRAPH_TEST_NOT_SET: the environment variable is not set"),
    ],
)
def test_a_bad_api_key_env_is_refused_before_anything_runs(
    flags: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "specs/dln1.yaml", "--runs", str(tmp_path), *flags]) == 2
    error = capsys.readouterr().err
    assert says in error and "sk-live-abc123" not in error  # a key passed by mistake is not repeated
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv", [["bench", "--repeats", "0"], ["bench", "--prompts-per-request", "-2"], ["eval", "specs/dln1.yaml", "--limit", "0"]]
)
def test_counts_below_one_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "must be at least 1" in capsys.readouterr().err
