"""dlngraph installed, not only cloned: the shipped specs are package data, so the demo and the
README's specs work from a built wheel in a folder that knows nothing of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlngraph.spec.shipped import SHIPPED_SPECS, shipped_spec_files
from tests.runs.test_cli_train import dlngraph

ROOT = Path(__file__).resolve().parents[2]
ANYWHERE = shutil.ignore_patterns("*.egg-info", "__pycache__", ".pytest_cache", "*.sqlite*")
AT_THE_ROOT = {".git", "build", "dist", "runs"}


def left_out(folder: str, names: list[str]) -> set[str]:
    """What a clean tree lacks: build leftovers anywhere, and the root's build and run folders."""
    ignored = set(ANYWHERE(folder, names))
    return ignored | (AT_THE_ROOT & set(names)) if Path(folder) == ROOT else ignored


HIDE_EDITABLE = """import sys
sys.meta_path[:] = [finder for finder in sys.meta_path if "__editable___dlngraph" not in getattr(finder, "__module__", "")]
"""
"""The venv's sitecustomize: a development install of dlngraph (`pip install -e`, whose import
hook the venv sees through the system's packages and which answers for `dlngraph.*` before the
venv's own files) is taken away, so that only the wheel is imported."""


def test_the_shipped_specs_are_the_repositorys_own() -> None:
    assert SHIPPED_SPECS.resolve() == (ROOT / "specs").resolve()
    files = [path.as_posix() for path in shipped_spec_files()]
    assert {"dln1.yaml", "demo/dln1.yaml", "demo/dln2.yaml", "paper/navigate-dln2.yaml", "sweeps/dln1_grid.yaml"} <= set(files)


def test_specs_lists_them_and_copies_them_for_the_readmes_commands(tmp_path: Path) -> None:
    listed = dlngraph("specs").stdout
    assert f"shipped specs: {SHIPPED_SPECS}" in listed and "  specs/demo/dln1.yaml" in listed
    assert "written to" in dlngraph("specs", "--copy", str(tmp_path)).stdout
    assert (tmp_path / "specs" / "dln2.yaml").read_text() == (ROOT / "specs" / "dln2.yaml").read_text()
    again = dlngraph("specs", "--copy", str(tmp_path), check=False)
    assert again.returncode == 1 and "already exists" in again.stderr


@pytest.mark.slow
def test_the_demo_runs_from_a_built_wheel_outside_the_repository(tmp_path: Path) -> None:
    """`pip wheel`, installed into a fresh venv (it sees the system's packages, so llama.cpp is
    not built again; the wheel itself replaces any dlngraph there), then run from elsewhere."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=left_out)  # a clean tree: no stale build/
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheels"), str(source))
    (wheel,) = (tmp_path / "wheels").glob("dlngraph-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", str(venv))
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel))
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "sitecustomize.py").write_text(HIDE_EDITABLE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(str(venv / "bin" / "python"), "-c", "import dlngraph.runs.demo as m; print(m.__file__)", cwd=elsewhere)
    assert where.stdout.startswith(str(venv))

    demo = run(str(venv / "bin" / "dlngraph"), "demo", "--quick", "--progress", "quiet", cwd=elsewhere)
    assert demo.stdout.strip().splitlines()[-1].startswith("demo: zero_shot_test=")
    assert list((elsewhere / "runs").glob("demo-dln1-*"))

    run(str(venv / "bin" / "dlngraph"), "specs", "--copy", ".", cwd=elsewhere)
    run(str(venv / "bin" / "dlngraph"), "validate", "specs/dln2.yaml", "specs/demo/dln1.yaml", cwd=elsewhere)


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=3600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result
