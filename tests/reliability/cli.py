"""What the reliability tests share: `dlngraph` as a real subprocess, and a run directory read
back as the figures two runs must agree on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
COMMAND = [sys.executable, "-m", "dlngraph.cli.main"]


def dlngraph(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`dlngraph ARGS...` from the repository root; the caller checks the exit code."""
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, **(env or {})})


def only_run(runs: Path) -> Path:
    (run,) = list(runs.iterdir())
    return run


def outcome(run: Path) -> dict:
    """What must match between two runs of one spec and seed: the summary's results, every
    logged choice and the final spec (costs, times and the scripted server's port may differ)."""
    summary = json.loads((run / "summary.json").read_text())
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    keys = ("iteration", "prompts", "updates", "batch_loss", "dev_accuracy")
    return {
        "summary": {key: summary[key] for key in ("best_prompts", "best_dev_accuracy", "test_accuracy", "iterations_run", "stopped")},
        "start": [event["dev_accuracy"] for event in events if event.get("kind") == "start"],
        "events": [{key: event[key] for key in keys} for event in events if event.get("kind") != "start"],
        "final": re.sub(r"http://127\.0\.0\.1:\d+/v1", "SERVER", (run / "final.yaml").read_text()),  # servers differ
    }
