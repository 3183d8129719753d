"""`dlngraph sweep`: the sweep file's errors, the runs it trains against the scripted server
(one made to fail), skipping and resuming, the budget, the dry run, compare and report."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlngraph.cli.main import main
from dlngraph.runs.sweep import SweepOptions, run_sweep, sweep_run_dirs
from dlngraph.runs.sweep_file import load_sweep, run_id
from dlngraph.spec import SpecError
from dlngraph.testing.process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]

SPEC = """\
name: sweepme
models:
  fast: {{backend: openai, base_url: "{url}", sampling: {{temperature: 0.0, max_tokens: 32}}}}
  backward: {{backend: openai, base_url: "{url}", sampling: {{temperature: 0.7, max_tokens: 64}}}}
nodes:
  - kind: lm
    id: answer
    model: fast
    template: classify
    prompt: Do the moves end at the start? Answer Yes or No.
    classes: [Yes|yes, No|no]
output: answer
training: {{iterations: 2, batch_size: 4, num_p_samples: 2, backward_model: backward}}
data: {{source: generated, task: navigate, sizes: {{train: 12, dev: 8, test: 8}}}}
"""


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with ServerProcess("--latency-ms", "10") as server:
        yield server.base_url


def closed_port_url() -> str:
    """A URL nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def write_sweep(folder: Path, url: str, body: str) -> Path:
    (folder / "spec.yaml").write_text(SPEC.format(url=url))
    path = folder / "sweep.yaml"
    path.write_text("spec: spec.yaml\n" + body)
    return path


def sweep_json(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


def outcomes(out: Path) -> dict[str, dict]:
    """What must not depend on how the sweep was run: each run's summary metrics and prompts."""
    keys = ("best_prompts", "best_dev_accuracy", "test_accuracy", "iterations_run", "stopped")
    return {record["id"]: {key: record["summary"][key] for key in keys}
            for record in sweep_json(out)["runs"] if record["summary"] is not None}


# --- the sweep file ------------------------------------------------------------------------------


def test_the_sweep_file_s_mistakes_name_its_field_and_line(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "http://127.0.0.1:1/v1", """\
grid:
  batch_size: [2, 0]
  data.sizes.trian: [5]
variants:
  - {models.nope.model: x}
seeds: [1]
metrik: best_dev_accuracy
""")
    with pytest.raises(SpecError) as caught:
        load_sweep(path)
    text = str(caught.value)
    assert f"{path}:8:1: metrik: unknown field 'metrik' (did you mean 'metric'?)" in text, text
    path.write_text(path.read_text().replace("metrik", "metric"))
    with pytest.raises(SpecError) as caught:
        load_sweep(path)
    text = str(caught.value)
    assert re.search(rf"{re.escape(str(path))}:3:\d+: grid\.batch_size\[1\]: training\.batch_size: expected a value >= 1, found 0", text), text
    assert re.search(rf"{re.escape(str(path))}:4:\d+: grid\['data\.sizes\.trian'\]\[0\]: .*did you mean 'train'", text), text
    assert re.search(rf"{re.escape(str(path))}:6:\d+: variants\[0\]\['models\.nope\.model'\]: .*no model named 'nope'", text), text


def test_a_swept_seed_belongs_to_seeds_and_a_run_is_asked_for_once(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "http://127.0.0.1:1/v1", "grid: {seed: [1, 2]}\nseeds: [3]\n")
    with pytest.raises(SpecError, match=r"sweep.yaml:2:\d+: grid.seed\[0\]: the seed is swept by `seeds`"):
        load_sweep(path)
    path.write_text("spec: spec.yaml\nvariants: [{batch_size: 2}, {batch_size: 2}]\n")
    with pytest.raises(SpecError, match=r"the run batch_size=2 is asked for twice"):
        load_sweep(path)


def test_runs_are_every_variant_grid_point_and_seed_named_by_their_overrides(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "http://127.0.0.1:1/v1", """\
grid: {batch_size: [2, 3], models.backward.sampling.temperature: [0.5]}
variants: [{}, {nodes.answer.prompt: "Say Yes or No: do we end where we began?"}]
seeds: [1, 2]
""")
    sweep = load_sweep(path)
    assert len(sweep.runs) == 2 * 2 * 1 * 2
    assert sweep.runs[0].overrides == ["batch_size=2", "models.backward.sampling.temperature=0.5", "seed=1"]
    assert sweep.runs[-1].overrides[0] == 'nodes.answer.prompt="Say Yes or No: do we end where we began?"'
    assert len({run.id for run in sweep.runs}) == len(sweep.runs)
    long = run_id([f"nodes.answer.prompt={'x' * 300}"])
    assert len(long) <= 100 and long != run_id([f"nodes.answer.prompt={'x' * 301}"])


# --- running it ------------------------------------------------------------------------------------


def test_a_sweep_trains_its_runs_ranks_them_reports_a_failure_and_skips_what_finished(
    tmp_path: Path, server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_sweep(tmp_path, server_url, f"""\
grid: {{batch_size: [2, 4]}}
variants:
  - {{}}
  - {{models.fast.base_url: "{closed_port_url()}", models.fast.limits.max_attempts: 1}}
seeds: [1]
""")
    out = tmp_path / "out"
    finished = []
    result = asyncio.run(run_sweep(load_sweep(path), SweepOptions(out=out, max_parallel=3), finished.append))
    statuses = {record.id: record.status for record in result.runs}
    assert sorted(statuses.values()) == ["failed", "failed", "finished", "finished"], statuses
    failed = [record for record in result.runs if record.status == "failed"]
    assert all("Connect" in (record.error or "") or "connect" in (record.error or "") for record in failed), failed
    assert len(finished) == 4
    written = sweep_json(out)
    accuracies = [next(r for r in written["runs"] if r["id"] == run)["summary"]["best_dev_accuracy"]
                  for run in written["ranking"]]
    assert len(accuracies) == 2 and accuracies == sorted(accuracies, reverse=True)
    for record in written["runs"]:
        if record["status"] == "finished":
            assert (out / record["id"] / "final.yaml").exists()
            spec = (out / record["id"] / "spec.yaml").read_text()
            assert record["overrides"][0].replace("=", ": ") in spec  # batch_size: N, as trained

    summary_times = {run: (out / run / "summary.json").stat().st_mtime_ns for run in written["ranking"]}
    again = asyncio.run(run_sweep(load_sweep(path), SweepOptions(out=out), finished.append))
    assert {run: (out / run / "summary.json").stat().st_mtime_ns for run in written["ranking"]} == summary_times
    assert [record.status for record in again.runs] == [record.status for record in result.runs]

    assert main(["compare", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in table[2:4]] == written["ranking"]  # then the failed ones, as far as they got
    assert len(table) == 2 + 4
    assert sweep_run_dirs(out)[:2] == [out / run for run in written["ranking"]]


def test_the_budget_caps_the_whole_sweep_and_a_second_session_finishes_it(tmp_path: Path, server_url: str) -> None:
    path = write_sweep(tmp_path, server_url, "seeds: [1, 2, 3]\n")
    sweep = load_sweep(path)
    whole = asyncio.run(run_sweep(sweep, SweepOptions(out=tmp_path / "whole", max_parallel=3)))
    # The budget charges calls sent to a server: requests less their retries (not cache hits).
    calls = [record.summary.requests - record.summary.retries for record in whole.runs]
    cap = sum(calls) // 2
    capped = asyncio.run(run_sweep(sweep, SweepOptions(out=tmp_path / "capped", max_parallel=1, max_calls=cap)))
    spent = sum(record.summary.requests - record.summary.retries for record in capped.runs if record.summary is not None)
    assert spent <= cap
    assert any(record.status in ("stopped", "waiting") for record in capped.runs), capped.runs
    asyncio.run(run_sweep(sweep, SweepOptions(out=tmp_path / "capped", max_parallel=2)))
    assert outcomes(tmp_path / "capped") == outcomes(tmp_path / "whole")


def test_the_dry_run_counts_each_run_as_train_dry_run_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_sweep(tmp_path, "http://127.0.0.1:1/v1", "grid: {batch_size: [2, 5], data.sizes.dev: [3, 9]}\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    rows = {line.split()[0]: int(line.split()[-1]) for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert len(rows) == 4 and not (tmp_path / "out").exists()
    for run, expected in rows.items():
        overrides = [arg for assignment in run.split(",") for arg in ("--set", assignment)]
        assert main(["train", str(tmp_path / "spec.yaml"), "--dry-run", *overrides]) == 0
        step, validation = map(int, re.search(r"about (\d+) step calls \+ (\d+) validation", capsys.readouterr().out).groups())
        assert expected == step + validation, run


def test_a_sweep_interrupted_mid_run_resumes_to_the_results_of_one_never_interrupted(
    tmp_path: Path, server_url: str
) -> None:
    path = write_sweep(tmp_path, server_url, "grid: {batch_size: [2, 3]}\nseeds: [1, 2]\n")
    path.with_name("spec.yaml").write_text(path.with_name("spec.yaml").read_text().replace("iterations: 2", "iterations: 4"))
    command = [sys.executable, "-m", "dlngraph.cli.main", "sweep", str(path), "--max-parallel", "2"]
    whole = subprocess.run([*command, "--out", str(tmp_path / "whole")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert whole.returncode == 0, whole.stderr

    killed = subprocess.Popen([*command, "--out", str(tmp_path / "killed")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "killed").glob("*/checkpoint.json")):
        assert killed.poll() is None and time.monotonic() < deadline, killed.communicate()
        time.sleep(0.02)
    killed.send_signal(signal.SIGINT)
    _, stderr = killed.communicate(timeout=60)
    assert killed.returncode == 130, stderr
    assert "continue with: dlngraph sweep" in stderr
    left = sweep_json(tmp_path / "killed")
    assert any(record["status"] == "waiting" for record in left["runs"]), left

    again = subprocess.run([*command, "--out", str(tmp_path / "killed")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert outcomes(tmp_path / "killed") == outcomes(tmp_path / "whole")
    assert len(outcomes(tmp_path / "whole")) == 4


def test_the_command_refuses_what_it_cannot_honour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_sweep(tmp_path, "http://127.0.0.1:1/v1", "seeds: [1]\n")
    assert main(["sweep", str(path), "--cpus-per-run", "0", "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()
    path.write_text("spec: missing.yaml\n")
    assert main(["sweep", str(path)]) == 1
    assert f"{path}:1:7: spec: no spec file at" in capsys.readouterr().err
