"""`resume_run` opens a run directory killed mid-write: the writer's leftovers go first."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.runs import TrainOptions, resume_run
from dlngraph.runs import train as runs_train

SPEC = Path(__file__).resolve().parents[2] / "specs" / "dln1.yaml"


async def test_resuming_removes_a_killed_writes_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_training(*args: object, **kwargs: object) -> str:
        return "trained"

    monkeypatch.setattr(runs_train, "_train", no_training)
    (tmp_path / "spec.yaml").write_text(SPEC.read_text())
    checkpoint = '{"iteration": 1, "prompts": {"answer": "p"}, "best_prompts": {"answer": "p"}}'
    (tmp_path / "checkpoint.json").write_text(checkpoint)
    (tmp_path / ".checkpoint.json.abcd1234").write_text('{"iteration": 2')  # cut by a SIGKILL
    assert await resume_run(tmp_path, TrainOptions()) == "trained"
    assert not (tmp_path / ".checkpoint.json.abcd1234").exists()
    assert (tmp_path / "checkpoint.json").read_text() == checkpoint
