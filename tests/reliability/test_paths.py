"""Paths: a run is written only inside the runs folder and never through a symbolic link; data
paths (read only) may point anywhere, links included, and nothing is written beside them; a
`dlngraph data fetch` file name cannot leave the data folder."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from dlngraph.data import DataError
from dlngraph.data.fetch import fetch_file
from dlngraph.data.sources import DataFile
from dlngraph.dln.rundir import RunDirectory
from dlngraph.testing.process import ServerProcess
from tests.reliability.cli import SPECS, dlngraph, only_run
from tests.reliability.test_bad_data import GOOD, files_spec


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` (links not followed) with its bytes and modification time."""
    return {str(path.relative_to(folder)): (path.read_bytes() if not path.is_symlink() else os.readlink(path).encode(),
                                            path.lstat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if not path.is_dir() or path.is_symlink()}


def test_a_new_run_takes_a_fresh_folder_never_a_link_holding_its_name(tmp_path: Path) -> None:
    runs, elsewhere = tmp_path / "runs", tmp_path / "elsewhere"
    runs.mkdir()
    elsewhere.mkdir()
    now = dt.datetime.now()
    for second in range(6):  # every name the run may take in the next seconds is a link
        stamp = (now + dt.timedelta(seconds=second)).strftime("%Y%m%d-%H%M%S")
        (runs / f"dln1-{stamp}").symlink_to(elsewhere)
        (runs / f"dln1-{stamp}-2").symlink_to(tmp_path / "dangling")
    run = RunDirectory.create(runs, "dln1")
    assert run.path.parent == runs and run.path.is_dir() and not run.path.is_symlink()
    assert run.path.name.endswith("-3")
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "dangling").exists()


def test_a_run_directory_that_is_a_link_is_refused_and_nothing_written_through_it(tmp_path: Path) -> None:
    real = tmp_path / "real-run"
    real.mkdir()
    (real / "spec.yaml").write_bytes((SPECS / "dln1.yaml").read_bytes())
    link = tmp_path / "runs" / "linked-run"
    link.parent.mkdir()
    link.symlink_to(real)
    before = snapshot(real)
    result = dlngraph("train", "--resume", str(link), "--progress", "quiet")
    assert result.returncode == 1
    assert f"error: {link}: a symbolic link (to {real}); a run writes only into real folders" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and snapshot(real) == before


@pytest.mark.parametrize("name", ["events.jsonl", "cache.sqlite", "run.lock"])
def test_a_run_file_that_is_a_link_is_refused_and_its_target_untouched(name: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.yaml").write_bytes((SPECS / "dln1.yaml").read_bytes())
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (run / name).symlink_to(target)
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 1
    assert f"error: {run / name}: a symbolic link (to {target})" in result.stderr, result.stderr
    assert target.read_text() == "keep me\n" and sorted(path.name for path in run.iterdir()) == [name, "spec.yaml"]


def test_data_read_through_a_link_and_dots_is_read_and_nothing_is_written_beside_it(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "data"
    elsewhere.mkdir(parents=True)
    (elsewhere / "train.jsonl").write_bytes(GOOD["jsonl"] * 3)
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.jsonl").symlink_to(elsewhere / "train.jsonl")
    spec = files_spec(project, "jsonl")
    spec.write_text(spec.read_text().replace("data/train.jsonl", "../project/data/train.jsonl"))
    os.chmod(elsewhere, 0o555)  # a read-only data folder is enough
    before = {folder: snapshot(folder) for folder in (elsewhere, project / "data")}
    try:
        with ServerProcess() as server:
            result = dlngraph("train", str(spec), "--base-url", server.base_url, "--runs", str(tmp_path / "runs"),
                              "--set", "iterations=1", "--progress", "quiet")
    finally:
        os.chmod(elsewhere, 0o755)
    assert result.returncode == 0, result.stderr
    assert {folder: snapshot(folder) for folder in before} == before
    run = only_run(tmp_path / "runs")
    assert f"train: {(project / 'data' / 'train.jsonl').resolve()}" in (run / "spec.yaml").read_text()
    assert sorted(path.name for path in project.iterdir()) == ["data", "spec.yaml"]


@pytest.mark.parametrize("name", ["../escaped.json", "bbh/../../escaped.json", "/tmp/escaped-by-dlngraph.json", ""])
def test_a_fetched_file_name_cannot_leave_the_data_folder(name: str, tmp_path: Path) -> None:
    home = tmp_path / "home" / "data"
    home.mkdir(parents=True)
    file = DataFile(path=name, sha256="0" * 64, size=1, url="http://127.0.0.1:9/never", origin="a test")
    with pytest.raises(DataError, match="must be a path inside the data folder"):
        fetch_file(file, home)
    assert list(tmp_path.rglob("escaped*")) == [] and not Path("/tmp/escaped-by-dlngraph.json").exists()
