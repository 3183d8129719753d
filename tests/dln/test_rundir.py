"""The run directory's mechanics: the atomic writer (file modes, the temporary files a killed write
leaves) and events.jsonl read back as records and trimmed on resume."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlngraph.dln.run_format import FormatVersionError, IterationRecord, StartRecord
from dlngraph.dln.rundir import RunDirectory, atomic_write


@pytest.fixture
def umask() -> Iterator[None]:
    before = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask")
def test_atomically_written_files_get_the_mode_of_any_new_file(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    run.write_spec("name: x\n")
    run.write_json(run.checkpoint_path, {"iteration": 1})
    run.append_event({"iteration": 0})
    for path in (run.spec_path, run.checkpoint_path, run.events_path):
        assert mode(path) == 0o640, path
    os.umask(0o022)
    atomic_write(run.checkpoint_path, b"{}")  # replacing a file: the new one's mode, not the old one's
    assert mode(run.checkpoint_path) == 0o644
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.json", "events.jsonl", "spec.yaml"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        atomic_write(tmp_path / "summary.json", "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_resuming_removes_the_writers_stale_temporaries_and_nothing_else(tmp_path: Path) -> None:
    run = RunDirectory(tmp_path)
    run.write_spec("name: x\n")
    run.append_event({"iteration": 0})
    run.append_event({"iteration": 1})
    stale = [".checkpoint.json.k2_9xq0a", ".spec.yaml.0123abcd", ".events.jsonl.zzzzzzzz", ".summary.json.a1b2c3d4",
             ".final.yaml.qwertyui"]
    kept = [".checkpoint.json.toolong99", ".checkpoint.json.short", ".notes.txt.abcdefgh", "checkpoint.json.abcdefgh",
            ".x.checkpoint.json.abcdefgh", "notes.md"]
    for name in stale + kept:
        (tmp_path / name).write_text("partial")
    (tmp_path / ".final.yaml.abcdefgh").mkdir()  # not a file the writer made
    assert sorted(path.name for path in run.remove_stale_temporaries()) == sorted(stale)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [*kept, ".final.yaml.abcdefgh", "spec.yaml", "events.jsonl"]
    )


def _log(tmp_path: Path, *lines: str) -> RunDirectory:
    run = RunDirectory(tmp_path)
    run.events_path.write_text("".join(line + "\n" for line in lines))
    return run


START = '{"kind": "start", "prompts": {"a": "P"}, "dev_accuracy": 0.5}'


def test_events_read_back_as_records_naming_the_lines_of_another_shape(tmp_path: Path) -> None:
    run = _log(tmp_path, START, '{"iteration": 0, "prompts": {"a": "Q"}}', "[1, 2]",
               '{"iteration": 1, "prompts": 3}', '{"iteration": 2}', '{"iteration": 3, "prom')
    log = run.read_events()
    assert log.start == StartRecord(prompts={"a": "P"}, dev_accuracy=0.5)
    assert log.iterations == [IterationRecord(iteration=0, prompts={"a": "Q"}), IterationRecord(iteration=2)]
    # the cut last line ends the log, and is not named: a crash cuts only the last line
    assert log.skipped == {3: "expected a JSON object, got list", 4: "Expected `object`, got `int` - at `$.prompts`"}
    assert RunDirectory(tmp_path / "nothing").read_events().records == []


def test_a_newer_line_is_refused_with_its_number(tmp_path: Path) -> None:
    run = _log(tmp_path, START, '{"format_version": 99, "iteration": 0}')
    with pytest.raises(FormatVersionError, match=r"events.jsonl line 2: run format version 99"):
        run.check_format_version()


def test_resuming_keeps_the_start_and_the_checkpointed_iterations_as_they_were_written(tmp_path: Path) -> None:
    kept = [START, '{"iteration": 0, "prompts": {"a": "Q"}}', '{"odd": true}']
    run = _log(tmp_path, *kept, '{"iteration": 1, "prompts": {"a": "R"}}')
    run.keep_events_through(0)
    assert run.events_path.read_text().splitlines() == [line.replace(": ", ":").replace(", ", ",") for line in kept]

