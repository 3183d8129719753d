"""The `dlngraph` command: exit codes and what `validate` and `show` print."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlngraph.cli import main as cli_main
from dlngraph.cli import validate
from dlngraph.cli.main import COMMANDS, main

SPECS_DIR = Path(__file__).resolve().parents[2] / "specs"
SHIPPED = sorted(SPECS_DIR.glob("*.yaml"))

BROKEN = """\
name: broken
models: {fast: {backend: local}}
nodes:
  - {kind: lm, id: a, model: fast, promt: hi}
  - {kind: lm, id: b, model: fats, prompt: hi}
output: b
"""

WITH_WARNING = """\
name: warned
models: {fast: {backend: local}}
nodes:
  - {kind: lm, id: unused, model: fast, prompt: x}
  - {kind: lm, id: answer, model: fast, prompt: y}
output: answer
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_accepts_every_shipped_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, SHIPPED)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"ok {path}" for path in SHIPPED]


def test_validate_reports_every_error_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(tmp_path, "broken.yaml", BROKEN)
    assert main(["validate", str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{broken}:4:36: nodes[0].promt: unknown field 'promt' (did you mean 'prompt'?)" in out
    assert "ok " not in out


def test_validate_checks_a_generated_tasks_name_and_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (SPECS_DIR / "dln1.yaml").read_text().replace("task: navigate", "task: navigat")
    spec = write(tmp_path, "typo.yaml", text)
    assert main(["validate", str(spec)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{spec}: data.task: unknown task 'navigat' (known: navigate, object_counting, reviews, word_problems)"
    ]


def test_validate_checks_every_file_even_after_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(tmp_path, "broken.yaml", BROKEN)
    good = SPECS_DIR / "dln1.yaml"
    assert main(["validate", str(broken), str(good)]) == 1
    assert f"ok {good}" in capsys.readouterr().out


def test_validate_prints_warnings_but_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warned = write(tmp_path, "warned.yaml", WITH_WARNING)
    assert main(["validate", str(warned)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{warned}:4:5: warning: nodes[0]: the output does not depend on node 'unused'; it will never run",
        f"ok {warned}",
    ]


def test_validate_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warned = write(tmp_path, "warned.yaml", WITH_WARNING)
    assert main(["validate", "--strict", str(warned)]) == 1
    assert f"failed {warned}" in capsys.readouterr().out


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(missing)]) == 1
    assert capsys.readouterr().out.strip() == f"{missing}: file not found"


@pytest.mark.parametrize(
    ("format_name", "marker"), [("text", "critical path:"), ("dot", "digraph"), ("mermaid", "flowchart TD")]
)
def test_show_formats(format_name: str, marker: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(SPECS_DIR / "residual.yaml"), "--format", format_name]) == 0
    assert marker in capsys.readouterr().out


def test_show_text_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(SPECS_DIR / "wide_ensemble.yaml")]) == 0
    out = capsys.readouterr().out
    assert "layers:\n  0: literal, counting, skeptic\n  1: vote\n" in out
    assert "critical path: input -> literal -> vote (1 LLM call)" in out


def test_show_broken_spec_prints_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(tmp_path, "broken.yaml", BROKEN)
    assert main(["show", str(broken)]) == 1
    captured = capsys.readouterr()
    assert "unknown field 'promt'" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_show_prints_warnings_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(write(tmp_path, "warned.yaml", WITH_WARNING))]) == 0
    captured = capsys.readouterr()
    assert "does not depend on node 'unused'" in captured.err
    assert captured.out.startswith("network warned")


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert main(["show", "a.yaml", "--format", "jpeg"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command.NAME in out


def test_unexpected_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def explode(path: Path, *, strict: bool) -> bool:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(validate, "_check", explode)
    assert main(["validate", str(SPECS_DIR / "dln1.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "internal error: RuntimeError: disk on fire (run with --traceback for details)"
    with pytest.raises(RuntimeError):
        main(["--traceback", "validate", str(SPECS_DIR / "dln1.yaml")])


def test_every_command_module_has_the_command_members() -> None:
    for command in COMMANDS:
        assert isinstance(command.NAME, str) and isinstance(command.HELP, str)
        assert callable(command.add_arguments) and callable(command.run)
    assert [command.NAME for command in COMMANDS][:2] == ["validate", "show"]
    assert cli_main.main is main


def test_console_module_runs_as_a_process(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.yaml", BROKEN)
    result = subprocess.run(
        [sys.executable, "-m", "dlngraph.cli.main", "validate", str(broken)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "unknown model 'fats'" not in result.stdout  # schema errors come first; references are checked after
    assert "unknown field 'promt'" in result.stdout
    assert result.stderr == ""
