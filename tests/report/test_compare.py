"""`dlngraph compare RUN_DIR...`: the table, and the overlaid curves of `--out`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlngraph.cli.main import main
from dlngraph.report.comparison import CHARTS, COMPARISON_FILE, text_table
from dlngraph.report.runlog import read_run
from tests.report.pictures import assert_picture, coloured_fraction


def test_the_table_has_a_row_per_run_with_its_numbers(
    finished_run: Path, unfinished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(finished_run), str(unfinished_run)]) == 0
    header, _rule, first, second = capsys.readouterr().out.splitlines()
    assert header.split() == ["run", "iterations", "dev:", "start", "->", "best", "test", "calls", "tokens", "wall", "time"]
    summary = read_run(finished_run).summary
    assert summary is not None
    assert first.split()[:2] == [finished_run.name, "3"]
    assert f"{summary.calls:,}" in first and f"{summary.prompt_tokens + summary.completion_tokens:,}" in first
    assert second.startswith(f"{unfinished_run.name} (unfinished)")
    start = read_run(unfinished_run).start
    assert start is not None  # the start is in the log, so a run still going shows start -> best
    assert re.search(rf"\b3\s+{start.dev_accuracy * 100:.1f}% -> 100\.0%\s+–", second), second  # no test yet


def test_out_writes_overlaid_curves_and_a_page(finished_run: Path, unfinished_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(finished_run), str(unfinished_run), "--out", str(tmp_path)]) == 0
    assert f"wrote {tmp_path / COMPARISON_FILE}" in capsys.readouterr().out
    for name in CHARTS:
        assert coloured_fraction(assert_picture(tmp_path / name)) > 0.001
    page = (tmp_path / COMPARISON_FILE).read_text()
    assert page.count('<img src="data:image/png;base64,') == len(CHARTS)
    assert finished_run.name in page and unfinished_run.name in page


def test_text_table_aligns_numbers_right() -> None:
    assert text_table(["name", "n"], [["a", "1"], ["long", "100"]]).splitlines() == [
        "name    n", "----  ---", "a       1", "long  100",
    ]


def test_compare_refuses_a_folder_that_is_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(tmp_path)]) == 1
    assert "not a run directory" in capsys.readouterr().err
