"""A full disk and a read-only run directory, on a real small file system (a tmpfs, which
needs the right to mount; skipped without it): a clear error, the last checkpoint intact, and
the run resumes to the uninterrupted result once space returns or the folder is writable."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.cli import dlngraph, outcome
from tests.reliability.test_crashes import server_url, stopped_run, uninterrupted  # noqa: F401 (fixtures)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs mounted for the test."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(folder: Path) -> Path:
    """Write a file until the file system has no space left."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    with open(filler, "ab", buffering=0) as handle:  # the last few blocks too
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def refused_keeping_the_checkpoint(run: Path, expected: str) -> None:
    checkpoint = (run / "checkpoint.json").read_bytes()
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith("error: ") and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert (run / "checkpoint.json").read_bytes() == checkpoint


def test_a_full_disk_stops_the_run_clearly_and_it_resumes_once_space_returns(disk: Path, server_url: str, uninterrupted: dict) -> None:  # noqa: F811
    run = stopped_run(disk, server_url)
    filler = fill(disk)
    refused_keeping_the_checkpoint(run, "No space left on device")
    filler.unlink()
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 0, result.stderr
    assert outcome(run) == uninterrupted


def test_a_full_disk_mid_run_says_how_to_resume(disk: Path, server_url: str, uninterrupted: dict) -> None:  # noqa: F811
    run = stopped_run(disk, server_url)
    filler = fill(disk)
    filler.write_bytes(b"\0" * (filler.stat().st_size - 64 * 1024))  # room for a little: the run starts, then runs out
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert ("No space left on device" in result.stderr or "disk is full" in result.stderr), result.stderr
    filler.unlink()
    assert dlngraph("train", "--resume", str(run), "--progress", "quiet").returncode == 0
    assert outcome(run) == uninterrupted


def test_a_read_only_run_directory_is_a_clear_error_and_resumes_once_writable(disk: Path, server_url: str, uninterrupted: dict) -> None:  # noqa: F811
    run = stopped_run(disk, server_url)
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    try:
        refused_keeping_the_checkpoint(run, "Read-only file system")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    result = dlngraph("train", "--resume", str(run), "--progress", "quiet")
    assert result.returncode == 0, result.stderr
    assert outcome(run) == uninterrupted
