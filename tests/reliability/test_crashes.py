"""Crashes: a real `dlngraph train` killed with SIGKILL at points spread over a run (inside
the checkpoint write and inside a cache transaction among them) resumes to the result of a
run never interrupted; a second process cannot train a run another is training, and a killed
one leaves no stale lock; damaged files end in an error naming the file and what to do."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlngraph.testing.process import ServerProcess
from tests.reliability.cli import COMMAND, ROOT, SPECS, dlngraph, only_run, outcome

DLN2 = str(SPECS / "dln2.yaml")
HOOK = Path(__file__).with_name("crash_hook")
TRAIN = ("--set", "iterations=4", "--set", "val_freq=1", "--progress", "quiet")


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with ServerProcess() as server:
        yield server.base_url


@pytest.fixture(scope="module")
def uninterrupted(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    runs = tmp_path_factory.mktemp("uninterrupted")
    result = dlngraph("train", DLN2, "--base-url", server_url, "--runs", str(runs), *TRAIN)
    assert result.returncode == 0, result.stderr
    return outcome(only_run(runs))


def crash_env(point: str) -> dict[str, str]:
    return {"DLNGRAPH_CRASH": point, "PYTHONPATH": os.pathsep.join([str(HOOK), str(ROOT), os.environ.get("PYTHONPATH", "")])}


CRASH_POINTS = [
    "checkpoint-inside:1",  # the start's checkpoint: its temporary written, not renamed
    "checkpoint-inside:3",
    "checkpoint-after:2",
    "checkpoint-after:5",  # the last iteration's, before the test split
    "event-torn:2",  # half a line of the first iteration's record
    "event-torn:4",
    "cache-inside:1",  # rows inserted, the transaction not committed
    "cache-put:60",  # during the first validation
    "cache-put:250",  # a step's backward pass
    "cache-put:480",  # the last iterations
]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_run_killed_anywhere_resumes_to_the_uninterrupted_result(
    point: str, tmp_path: Path, server_url: str, uninterrupted: dict
) -> None:
    killed = dlngraph("train", DLN2, "--base-url", server_url, "--runs", str(tmp_path), *TRAIN, env=crash_env(point))
    assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
    run = only_run(tmp_path)
    assert not (run / "summary.json").exists()
    resumed = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert outcome(run) == uninterrupted
    assert not [path.name for path in run.iterdir() if path.name.startswith(".")]  # no temporary left


def test_a_second_process_refuses_a_run_being_trained_and_a_killed_one_leaves_no_lock(tmp_path: Path) -> None:
    with ServerProcess("--latency-ms", "200") as server:  # slow enough to be training still when the second comes
        first = subprocess.Popen([*COMMAND, "train", DLN2, "--base-url", server.base_url, "--runs", str(tmp_path), *TRAIN],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            checkpoint = wait_for(lambda: next(tmp_path.glob("*/checkpoint.json"), None), first)
            run = checkpoint.parent
            second = dlngraph("train", "--resume", str(run), "--progress", "quiet")
            assert second.returncode == 1
            assert second.stderr.startswith(f"error: {run}: another process is training this run (it holds run.lock);")
            assert "Traceback" not in second.stderr
            assert first.poll() is None  # refused because the first was training, not because it had finished
        finally:
            first.send_signal(signal.SIGKILL)
            first.communicate(timeout=30)
        resumed = dlngraph("train", "--resume", str(run), "--progress", "quiet")
        assert resumed.returncode == 0, resumed.stderr
    assert json.loads((run / "summary.json").read_text())["stopped"] == "completed"


def test_a_lock_held_by_another_open_file_is_refused_too(tmp_path: Path, server_url: str) -> None:
    run = stopped_run(tmp_path, server_url)
    with open(run / "run.lock", "a") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        refused = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert refused.returncode == 1 and "another process is training this run" in refused.stderr
    assert dlngraph("train", "--resume", str(run), "--progress", "quiet").returncode == 0


def wait_for(find, process: subprocess.Popen[str], timeout_s: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = find()
        if found is not None:
            return found
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("timed out")


def stopped_run(root: Path, server_url: str) -> Path:
    """A run stopped by its budget after a checkpoint: resuming it has work left to do."""
    result = dlngraph("train", DLN2, "--base-url", server_url, "--runs", str(root / "runs"), "--budget", "calls=200", *TRAIN)
    assert result.returncode == 0, result.stderr
    run = only_run(root / "runs")
    assert json.loads((run / "checkpoint.json").read_text())["iteration"] >= 1
    return run


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong type"])
def test_a_damaged_checkpoint_is_named_with_what_to_do(damage: str, tmp_path: Path, server_url: str) -> None:
    run = stopped_run(tmp_path, server_url)
    checkpoint = run / "checkpoint.json"
    text = checkpoint.read_text()
    checkpoint.write_text({"garbage": "\x00\x01 not json", "truncated": text[: len(text) // 2],
                           "wrong type": text.replace('"iteration":', '"iteration": "two", "was":', 1)}[damage])
    before = {path.name: path.read_bytes() for path in run.iterdir() if path.is_file() and path.name != "run.lock"}
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.startswith(f"error: {checkpoint}: not a readable checkpoint (")
    assert "delete checkpoint.json to train the run again from its start" in result.stderr
    assert {path.name: path.read_bytes() for path in run.iterdir() if path.is_file() and path.name != "run.lock"} == before
    checkpoint.unlink()  # as the message says: the run starts again, and ends as it would have
    assert dlngraph("train", "--resume", str(run), "--progress", "quiet").returncode == 0
    assert json.loads((run / "summary.json").read_text())["stopped"] == "completed"


def test_a_damaged_event_log_is_named_and_a_torn_last_line_is_not_an_error(tmp_path: Path, server_url: str, uninterrupted: dict) -> None:
    run = stopped_run(tmp_path, server_url)
    events = run / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    events.write_bytes(lines[0] + b'{"iteration": 0, "prom\n' + b"".join(lines[1:]))
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {events}: line 2 is not a JSON object, and lines follow it: the log is damaged;")
    events.write_bytes(b"".join(lines) + b'{"iteration": 9, "cut by a cra')  # what a crash can leave
    assert dlngraph("train", "--resume", str(run), "--progress", "quiet").returncode == 0
    assert outcome(run) == uninterrupted


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_cache_is_set_aside_and_rebuilt_saying_so(damage: str, tmp_path: Path, server_url: str, uninterrupted: dict) -> None:
    run = stopped_run(tmp_path, server_url)
    cache = run / "cache.sqlite"
    with sqlite3.connect(cache) as db:  # fold the WAL in, so that the main file holds the rows
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = cache.read_bytes()
    cache.write_bytes(b"\x00garbage" * 500 if damage == "garbage" else data[: len(data) // 2])
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 0, result.stderr
    assert f"{cache} is damaged (" in result.stderr
    assert "moved to cache.sqlite.damaged; a new, empty cache is built" in result.stderr
    assert (run / "cache.sqlite.damaged").exists()
    assert outcome(run) == uninterrupted
