"""README.md: its Python is a program that runs as written, and its commands say what they accept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlngraph.cli.main import main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_python_block_is_a_complete_program() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        compile(block, "README.md", "exec")  # a top-level `await` is a SyntaxError outside a notebook


def test_the_eval_row_names_every_split_the_command_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    (documented,) = re.findall(r"`dlngraph eval SPEC --split (\S+)", README)
    assert main(["eval", "--help"]) == 0
    accepted = re.findall(r"--split \{(\S+)\}", capsys.readouterr().out)[0]
    assert documented.split("\\|") == accepted.split(",")


def test_the_sweep_example_is_the_shipped_sweep_file_and_loads() -> None:
    from dlngraph.runs.sweep_file import load_sweep

    path = Path(__file__).resolve().parents[2] / "specs" / "sweeps" / "dln1_grid.yaml"
    assert f"```yaml\n{path.read_text()}```" in README
    assert len(load_sweep(path).runs) == 2 * 2 * 2 * 3
