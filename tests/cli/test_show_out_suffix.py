"""`dlngraph show SPEC --out FILE`: without `--format`, the file's suffix names the format."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.cli.main import main
from tests.report.pictures import assert_picture

SPEC = str(Path(__file__).resolve().parents[2] / "specs" / "dln2.yaml")


def test_a_png_suffix_draws_a_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "net.png"
    assert main(["show", SPEC, "--out", str(out)]) == 0
    assert_picture(out)
    assert f"wrote {out}" in capsys.readouterr().err


def test_an_svg_suffix_in_any_case_draws_an_svg(tmp_path: Path) -> None:
    out = tmp_path / "net.SVG"
    assert main(["show", SPEC, "--out", str(out)]) == 0
    assert "<svg" in out.read_text()


@pytest.mark.parametrize(
    ("name", "start"), [("net.dot", 'digraph "dln2"'), ("net.gv", 'digraph "dln2"'), ("net.mmd", "flowchart TD"),
                        ("net.mermaid", "flowchart TD"), ("net.txt", "network dln2")],
)
def test_text_suffixes_pick_their_rendering(name: str, start: str, tmp_path: Path) -> None:
    out = tmp_path / name
    assert main(["show", SPEC, "--out", str(out)]) == 0
    assert out.read_text().startswith(start)


@pytest.mark.parametrize("name", ["net.gif", "net", "net.yaml"])
def test_a_suffix_naming_no_format_is_a_usage_error(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / name
    assert main(["show", SPEC, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {out}: the file's suffix names no format") and "--format" in err
    assert not out.exists()


def test_an_explicit_format_wins_over_the_suffix(tmp_path: Path) -> None:
    out = tmp_path / "net.png"
    assert main(["show", SPEC, "--format", "text", "--out", str(out)]) == 0
    assert out.read_text().startswith("network dln2")
    odd = tmp_path / "net.data"
    assert main(["show", SPEC, "--format", "mermaid", "--out", str(odd)]) == 0
    assert odd.read_text().startswith("flowchart TD")


def test_without_out_the_terminal_gets_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", SPEC]) == 0
    assert capsys.readouterr().out.startswith("network dln2")
