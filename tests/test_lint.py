"""`ruff check` passes clean over the whole repository, with the settings of pyproject.toml
(`[tool.ruff]`). ruff is in the `test` extra; without it the test is skipped and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("ruff", reason="ruff is not installed: pip install -e '.[test]' (it is in the test extra)")


def _ruff_check(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`ruff check ARGUMENTS` run from the repository's root, so that pyproject.toml's settings apply."""
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *arguments]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_ruff_finds_nothing_in_the_repository() -> None:
    result = _ruff_check(".")
    assert result.returncode == 0, (
        f"ruff check found problems (`ruff check --fix` mends the mechanical ones):\n{result.stdout}{result.stderr}"
    )


def test_the_settings_catch_an_unused_import_and_unsorted_imports(tmp_path: Path) -> None:
    """The check above can fail: the same settings flag a planted file (F401, I001)."""
    planted = tmp_path / "planted.py"
    planted.write_text("import sys\nimport os\n")
    result = _ruff_check("--config", "pyproject.toml", str(planted))
    assert result.returncode == 1, result.stderr
    assert "F401" in result.stdout and "I001" in result.stdout
