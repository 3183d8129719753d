"""The fault matrix: a real `dlngraph train` against the scripted server (at zero latency) that
misbehaves on about 10% of requests, one kind of fault at a time and all mixed, that goes away
for 5 s in the middle of a run, or dribbles answers (a slow-loris). Each run ends with the final
prompts, events and accuracies of the clean run; every request the client counts reached the
server (none lost, none counted twice); retries are bounded and reported in summary.json."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

from dlngraph.spec import dump_spec, load_spec
from dlngraph.spec.models import Limits
from dlngraph.testing.faults import FAULT_KINDS
from dlngraph.testing.process import ServerProcess
from tests.reliability.cli import COMMAND, ROOT, SPECS, dlngraph, only_run, outcome

FAULT_S = 1.5
"""How long the server holds a timed-out answer, and dribbles a slow-loris one."""
LIMITS = Limits(max_attempts=10, read_timeout_s=0.3, request_timeout_s=0.6)
"""Timeouts short enough for a test; attempts enough for a 5 s outage."""
TRAIN = ("--set", "iterations=2", "--set", "val_freq=1", "--progress", "quiet")
SLOW = {"timeout", "slowloris"}
"""Faults whose every occurrence costs a timeout; with retry backoff these runs take tens of seconds."""
MATRIX = [pytest.param((kind,), id=kind, marks=[pytest.mark.slow] if kind in SLOW else []) for kind in FAULT_KINDS]
MATRIX.append(pytest.param(FAULT_KINDS, id="mixed"))


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dln2 with LIMITS on every model."""
    shipped = load_spec(SPECS / "dln2.yaml").spec
    models = {name: msgspec.structs.replace(model, limits=LIMITS) for name, model in shipped.models.items()}
    path = tmp_path_factory.mktemp("spec") / "dln2.yaml"
    data = shipped.data
    path.write_text(dump_spec(msgspec.structs.replace(shipped, models=models, data=data)))
    return path


def train(spec: Path, url: str, runs: Path) -> dict:
    result = dlngraph("train", str(spec), "--base-url", url, "--runs", str(runs), "--no-cache", *TRAIN)
    assert result.returncode == 0, result.stderr
    return json.loads((only_run(runs) / "summary.json").read_text())


def completions(stats: dict | None) -> int:
    assert stats is not None
    return sum(count for endpoint, count in stats["by_endpoint"].items() if endpoint != "/v1/models")


@pytest.fixture(scope="module")
def clean(spec: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    runs = tmp_path_factory.mktemp("clean")
    with ServerProcess() as server:
        summary = train(spec, server.base_url, runs)
    # One repeated attempt without a fault: the first class call's 100 top logprobs are refused.
    assert summary["retries"] == 1 and completions(server.stats) == summary["requests"]
    return outcome(only_run(runs)), summary


@pytest.mark.parametrize("kinds", MATRIX)
def test_a_run_through_faults_ends_as_the_clean_run(kinds: tuple[str, ...], spec: Path, tmp_path: Path, clean: tuple[dict, dict]) -> None:
    clean_outcome, clean_summary = clean
    rate = 0.1 / len(kinds)
    faults = [argument for kind in kinds for argument in ("--fault", f"{kind}={rate}")]
    with ServerProcess(*faults, "--seed", "7", "--fault-duration-s", str(FAULT_S)) as server:
        summary = train(spec, server.base_url, tmp_path)
    assert outcome(only_run(tmp_path)) == clean_outcome
    assert summary["calls"] == clean_summary["calls"]
    # None lost, none twice: the server saw every request the client counts, retries included.
    assert completions(server.stats) == summary["requests"]
    assert summary["requests"] - summary["retries"] == clean_summary["requests"] - clean_summary["retries"]
    faulted = sum(server.stats["faults_injected"].values())
    assert faulted > 0 and summary["retries"] - clean_summary["retries"] == faulted  # each fault cost one retry, and was reported


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_a_server_gone_for_five_seconds_mid_run_costs_retries_not_results(spec: Path, tmp_path: Path, clean: tuple[dict, dict]) -> None:
    clean_outcome, clean_summary = clean
    port = str(free_port())
    before = ServerProcess("--port", port, "--latency-ms", "5").start()
    process = subprocess.Popen([*COMMAND, "train", str(spec), "--base-url", before.base_url, "--runs", str(tmp_path), "--no-cache", *TRAIN],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("*/checkpoint.json")) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.01)
        before.stop()  # the server goes away with requests in flight
        time.sleep(5)
        with ServerProcess("--port", port) as after:
            _, stderr = process.communicate(timeout=180)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    run = only_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    assert outcome(run) == clean_outcome
    assert summary["calls"] == clean_summary["calls"]
    served = completions(before.stats) + completions(after.stats)
    refused = summary["requests"] - served  # attempts while nothing listened never reached a server
    assert refused > 0 and summary["retries"] >= refused
    assert summary["requests"] - summary["retries"] == clean_summary["requests"] - clean_summary["retries"]
