"""Reports count things in words: one run, two runs."""

from __future__ import annotations

from pathlib import Path

from dlngraph.report.comparison import write_comparison
from dlngraph.report.run_report import candidates_section
from dlngraph.report.runlog import read_run


def test_a_comparison_of_one_run_says_run(finished_run: Path, unfinished_run: Path, tmp_path: Path) -> None:
    one = write_comparison([read_run(finished_run)], tmp_path / "one").read_text()
    assert "Comparison of 1 run<" in one
    two = write_comparison([read_run(finished_run), read_run(unfinished_run)], tmp_path / "two").read_text()
    assert "Comparison of 2 runs<" in two


def test_the_candidates_section_counts_its_candidates(finished_run: Path) -> None:
    run = read_run(finished_run)
    assert "The 1 best candidate of each node" in candidates_section(run, 1)
    assert "The 3 best candidates of each node" in candidates_section(run, 3)
