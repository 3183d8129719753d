"""The main job's path on the real embedded model: train DLN-1 for two iterations on a generated
task with Gemma 3 270M, then evaluate the final spec as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runs.test_cli_train import ROOT, dlngraph

pytestmark = pytest.mark.slow

DLN1 = ROOT / "specs" / "dln1.yaml"


def test_dln1_trains_on_the_embedded_model_and_eval_reproduces_dev_accuracy(tmp_path: Path) -> None:
    dlngraph("train", str(DLN1), "--runs", str(tmp_path), "--progress", "lines",
             "--set", "iterations=2", "--set", "batch_size=4", "--set", "num_p_samples=3", "--set", "val_freq=1")
    (run,) = list(tmp_path.iterdir())
    for name in ("spec.yaml", "events.jsonl", "checkpoint.json", "final.yaml", "summary.json", "cache.sqlite"):
        assert (run / name).exists(), name
    start, *events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert start["kind"] == "start" and 0.0 <= start["dev_accuracy"] <= 1.0
    assert [event["iteration"] for event in events] == [0, 1]
    updates = [event["updates"]["answer"] for event in events]
    assert all(update["candidates"][0]["origin"] == "current" for update in updates)
    # Gemma 270M's proposals are often nothing but copied examples, which cleaning drops; every
    # iteration still asked for proposals, and each one is either a candidate or counted as dropped.
    assert sum(len(update["candidates"]) - 1 + update["dropped_proposals"] for update in updates) >= 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "completed" and summary["calls"] > 0
    assert summary["initial_dev_accuracy"] == start["dev_accuracy"] <= summary["best_dev_accuracy"] <= 1.0

    report = json.loads(dlngraph("eval", str(run / "final.yaml"), "--split", "dev", "--json").stdout)
    assert report["rows"][0]["accuracy"] == summary["best_dev_accuracy"]

