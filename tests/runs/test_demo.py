"""`dlngraph demo` as a user runs it, against a scripted server in its own process (fast); the
embedded model's run is CI's `dlngraph demo --quick` and the slow test below."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from dlngraph.testing.process import ServerProcess
from tests.runs.test_cli_train import dlngraph

LAST_LINE = re.compile(
    r"demo: zero_shot_test=(\d\.\d{3}) kshot_test=(\d\.\d{3}) dln1_test=(\d\.\d{3}) dln2_test=(\d\.\d{3})"
    r" seeds=(\d+) wall_s=(\d+)"
)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with ServerProcess() as server:
        yield server.base_url


def test_the_demo_trains_every_seed_and_ends_with_its_summary_line(server_url: str, tmp_path: Path) -> None:
    result = dlngraph("demo", "--base-url", server_url, "--runs", str(tmp_path), "--seeds", "2",
                      "--set", "iterations=1", "--progress", "lines")
    lines = result.stdout.strip().splitlines()
    match = LAST_LINE.fullmatch(lines[-1])
    assert match, lines[-1]
    assert match.group(5) == "2"
    assert any(line.startswith("mean over 2 seeds (1, 2)") for line in lines)
    assert len(list(tmp_path.glob("demo-dln1-*"))) == len(list(tmp_path.glob("demo-dln2-*"))) == 2
    seeds = sorted(yaml.safe_load((run / "spec.yaml").read_text())["training"]["seed"]
                   for run in tmp_path.glob("demo-dln1-*"))
    assert seeds == [1, 2]
    for run in [*tmp_path.glob("demo-dln1-*"), *tmp_path.glob("demo-dln2-*")]:
        summary = json.loads((run / "summary.json").read_text())
        assert summary["initial_dev_accuracy"] is not None  # every run validates its start
    assert (tmp_path / "demo-cache.sqlite").exists()  # shared by the runs: their common calls are made once
    table = {line.split()[0]: line.split() for line in lines if line.startswith(("0-shot", "3-shot", "DLN-1", "DLN-2"))}
    assert set(table) == {"0-shot", "3-shot", "DLN-1", "DLN-2"}
    assert table["0-shot"][3] == match.group(1) and table["DLN-1"][3] == match.group(3)
    assert table["3-shot"][3] == match.group(2) and table["3-shot"][4:6] == ["5", "draws"]  # the mean, then its spread


def test_quick_is_one_seed_one_iteration_on_a_dozen_examples(server_url: str, tmp_path: Path) -> None:
    result = dlngraph("demo", "--quick", "--base-url", server_url, "--runs", str(tmp_path), "--progress", "quiet")
    match = LAST_LINE.fullmatch(result.stdout.strip().splitlines()[-1])
    assert match and match.group(5) == "1"
    (run,) = tmp_path.glob("demo-dln1-*")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations_run"] == 1
    assert yaml.safe_load((run / "spec.yaml").read_text())["data"]["sizes"] == {"train": 16, "dev": 12, "test": 12}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--model", "missing.gguf"], "--model missing.gguf: no such file"),
     (["--seeds", "0"], "must be at least 1"),
     (["--model", __file__, "--base-url", "http://127.0.0.1:9"], "give one of them")],
)
def test_bad_arguments_are_refused_before_any_work(args: list[str], message: str, tmp_path: Path) -> None:
    result = dlngraph("demo", "--runs", str(tmp_path / "runs"), *args, check=False)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / "runs").exists()
