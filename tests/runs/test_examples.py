"""The scripts in examples/ run as a user runs them, against a scripted server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runs.test_cli_train import ROOT, server_url  # noqa: F401 - the module-scoped server

SHARED_DATA = ROOT.parent / "shared" / "data"


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_build_in_code_writes_a_spec_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "net.yaml"
    assert "wrote" in run_example("build_in_code.py", str(out))
    validated = subprocess.run([sys.executable, "-m", "dlngraph.cli.main", "validate", str(out)], capture_output=True, text=True)
    assert validated.returncode == 0, validated.stdout


def test_forward_batch_prints_a_prediction_per_example(server_url: str) -> None:  # noqa: F811
    output = run_example("forward_batch.py", "specs/dln2.yaml", env={"DLNGRAPH_BASE_URL": server_url})
    assert output.count("-> ") == 4 and "[reason]" in output


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data beside the clone")
def test_train_bbh_through_an_openai_compatible_endpoint(tmp_path: Path, server_url: str) -> None:  # noqa: F811
    env = {"DLNGRAPH_BASE_URL": server_url, "DLNGRAPH_MODEL": "scripted", "DLNGRAPH_ITERATIONS": "1",
           "DLNGRAPH_RUNS": str(tmp_path), "DLNGRAPH_API_KEY": "sk-secret-never-logged"}
    output = run_example("train_bbh_openai.py", str(SHARED_DATA), env=env)
    assert "best dev" in output
    (run,) = list(tmp_path.iterdir())
    for path in run.iterdir():
        assert b"sk-secret-never-logged" not in path.read_bytes(), path
