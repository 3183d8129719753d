"""The run directory's format version: old runs read as version 1, newer or unknown ones refused.

`fixtures/unversioned_run` was written by dlngraph before the format carried a version
(`dlngraph train specs/dln1.yaml --set iterations=3 --set val_freq=1 --set do_first_eval=true
--budget calls=60` against the scripted server): stopped by the budget after one iteration,
without cache.sqlite and run.lock.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import msgspec
import pytest

from dlngraph.cli.main import main
from dlngraph.dln.run_format import (
    FORMAT_VERSION,
    FormatVersionError,
    IterationRecord,
    StartRecord,
    Usage,
    check_version,
    decode_checkpoint,
    decode_summary,
    event_of,
)
from dlngraph.dln.trainer import usage_delta
from dlngraph.llm.pool import ModelPool
from dlngraph.llm.types import GenerateRequest, Tag
from dlngraph.report.runlog import read_run
from dlngraph.runs import RunSummary, TrainOptions, resume_run, train_spec
from dlngraph.spec.models import ModelSpec
from dlngraph.testing.server import ScriptedServer

FIXTURE = Path(__file__).parent / "fixtures" / "unversioned_run"
VERSION_1 = Path(__file__).parent / "fixtures" / "version1_run"
"""Written by dlngraph at run format version 1 (37b9db2, before demonstrations), with the same
command as `unversioned_run`."""
SPEC = Path(__file__).resolve().parents[2] / "specs" / "dln1.yaml"
OVERRIDES = ["iterations=3", "val_freq=1", "do_first_eval=true"]
SERVER_URL = re.compile(r"http://127\.0\.0\.1:\d+/v1")


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    run = tmp_path / "old"
    shutil.copytree(FIXTURE, run)
    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def set_version(path: Path, version: object, line: int | None = None) -> None:
    """Write `version` into the JSON file at `path` (into one line of it for events.jsonl)."""
    if line is None:
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "format_version": version}))
        return
    lines = path.read_text().splitlines()
    lines[line] = json.dumps({**json.loads(lines[line]), "format_version": version})
    path.write_text("\n".join(lines) + "\n")


def test_the_fixture_is_of_the_old_shape() -> None:
    files = [FIXTURE / "checkpoint.json", FIXTURE / "summary.json"]
    lines = (FIXTURE / "events.jsonl").read_text().splitlines()
    assert all("format_version" not in json.loads(path.read_text()) for path in files)
    assert all("format_version" not in json.loads(line) for line in lines) and len(lines) == 2


def test_a_file_without_a_version_is_version_1_and_every_record_writes_the_current_one() -> None:
    check_version({}, "x")
    check_version({"format_version": FORMAT_VERSION}, "x")
    state = decode_checkpoint(FIXTURE / "checkpoint.json")
    assert state.iteration == 1 and state.spent.calls == 74
    assert decode_summary(FIXTURE / "summary.json").stopped == "budget"
    start, first = (event_of(json.loads(line), "line") for line in (FIXTURE / "events.jsonl").read_text().splitlines())
    assert isinstance(start, StartRecord) and isinstance(first, IterationRecord)
    assert start.usage is not None and start.usage.total.calls > 0
    assert first.updates["answer"].candidates and first.usage is not None and first.usage.by_phase
    for record in (state, start, first):
        assert msgspec.to_builtins(record)["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize(("version", "words"), [
    (FORMAT_VERSION + 1, f"run format version {FORMAT_VERSION + 1}, newer than this dlngraph reads"),
    (0, "unknown run format version 0"),
    ("1", "unknown run format version '1'"),
    (True, "unknown run format version True"),
])
def test_a_version_this_code_does_not_read_is_named_with_the_file(version: object, words: str, old_run: Path) -> None:
    set_version(old_run / "checkpoint.json", version)
    with pytest.raises(FormatVersionError) as error:
        decode_checkpoint(old_run / "checkpoint.json")
    assert str(error.value).startswith(f"{old_run / 'checkpoint.json'}: {words}")


async def test_the_usage_record_holds_every_counter_of_a_pool_reading(scripted_server: ScriptedServer) -> None:
    """The typed usage loses nothing of `ModelPool.usage()`: its delta converts and reads back equal."""
    spec = ModelSpec(backend="openai", base_url=scripted_server.base_url, model="scripted")
    async with ModelPool.from_specs({"m": spec}) as pool:
        before = pool.usage()
        await pool["m"].generate(GenerateRequest(prompt="Q: one?\nA:", max_tokens=4), tag=Tag(node="a", phase="forward"))
        after = pool.usage()
    delta = usage_delta(before, after)
    assert delta["total"]["calls"] == 1
    assert msgspec.to_builtins(msgspec.convert(delta, Usage)) == delta


def test_an_unversioned_run_is_reported_compared_and_resumed_as_version_1(
    old_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = read_run(old_run)
    assert log.start is not None and [it.iteration for it in log.iterations] == [0]
    assert log.summary is not None and log.summary.stopped == "budget"
    assert not [problem for problem in log.problems if "skipped" in problem or "cannot be read" in problem]
    report_compare_and_resume(old_run, tmp_path, capsys)
    old_lines = (FIXTURE / "events.jsonl").read_text().splitlines()
    lines = (old_run / "events.jsonl").read_text().splitlines()
    assert lines[:2] == old_lines  # the old lines are kept as they were written
    assert [json.loads(line).get("format_version") for line in lines] == [None, None, FORMAT_VERSION, FORMAT_VERSION]
    assert json.loads((old_run / "checkpoint.json").read_text())["format_version"] == FORMAT_VERSION


def report_compare_and_resume(
    old_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[RunSummary, RunSummary]:
    """`old_run` reported, compared and resumed to the result of the same training run anew."""
    assert main(["report", str(old_run), "--out", str(tmp_path / "report")]) == 0
    assert main(["compare", str(old_run)]) == 0
    assert old_run.name in capsys.readouterr().out
    resumed, anew = asyncio.run(resume_and_train_anew(old_run, tmp_path))
    assert resumed.stopped == anew.stopped == "completed" and resumed.iterations_run == 3
    assert resumed.best_prompts == anew.best_prompts and resumed.test_accuracy == anew.test_accuracy
    return resumed, anew


async def resume_and_train_anew(old_run: Path, tmp_path: Path) -> tuple[RunSummary, RunSummary]:
    """`old_run` resumed, and the same training run anew, on one scripted server."""
    async with ScriptedServer() as server:
        resumed = await resume_run(old_run, TrainOptions(base_url=server.base_url))
        anew = await train_spec(SPEC, TrainOptions(runs_root=tmp_path / "runs", base_url=server.base_url,
                                                   overrides=OVERRIDES))
    return resumed, anew


def test_a_version_1_run_is_read_reported_and_resumed_to_the_result_of_a_run_anew(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run written before demonstrations existed reads as having none, which is what it showed."""
    old_run = tmp_path / "v1"
    shutil.copytree(VERSION_1, old_run)
    state = decode_checkpoint(old_run / "checkpoint.json")
    assert state.format_version == 1 and state.iteration == 1 and state.demonstrations == {}
    assert decode_summary(old_run / "summary.json").best_demonstrations == {}
    resumed, anew = report_compare_and_resume(old_run, tmp_path, capsys)
    assert resumed.best_demonstrations == anew.best_demonstrations == {}
    lines = (old_run / "events.jsonl").read_text().splitlines()
    assert lines[:2] == (VERSION_1 / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["format_version"] for line in lines] == [1, 1, FORMAT_VERSION, FORMAT_VERSION]
    finals = [SERVER_URL.sub("SERVER", (run / "final.yaml").read_text()) for run in (old_run, Path(anew.run_dir))]
    assert finals[0] == finals[1] and "demonstrations" not in finals[0]


@pytest.mark.parametrize("file", ["checkpoint.json", "events.jsonl", "summary.json"])
def test_resume_refuses_a_newer_run_and_writes_nothing(
    file: str, old_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_version(old_run / file, FORMAT_VERSION + 1, line=1 if file == "events.jsonl" else None)
    before = snapshot(old_run)
    assert main(["train", "--resume", str(old_run), "--base-url", "http://127.0.0.1:9/v1", "--progress", "quiet"]) == 1
    error = capsys.readouterr().err
    where = f"{old_run / file} line 2" if file == "events.jsonl" else str(old_run / file)
    assert f"{where}: run format version {FORMAT_VERSION + 1}" in error and "upgrade dlngraph" in error
    assert snapshot(old_run) == before


@pytest.mark.parametrize("file", ["events.jsonl", "summary.json"])
@pytest.mark.parametrize("command", ["report", "compare"])
def test_report_and_compare_refuse_a_newer_run_and_write_nothing(
    command: str, file: str, old_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_version(old_run / file, FORMAT_VERSION + 1, line=0 if file == "events.jsonl" else None)
    before = snapshot(old_run)
    out = tmp_path / "out"
    assert main([command, str(old_run), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    where = f"{old_run / file} line 1" if file == "events.jsonl" else str(old_run / file)
    assert f"{where}: run format version {FORMAT_VERSION + 1}" in error
    assert snapshot(old_run) == before and not out.exists()


def test_a_sweep_report_reads_every_run_before_writing_any(old_run: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A sweep whose second run is newer gets no report at all, not the first run's alone."""
    sweep = tmp_path / "sweep"
    for run_id in ("a", "b"):
        shutil.copytree(old_run, sweep / run_id)
    set_version(sweep / "b" / "summary.json", FORMAT_VERSION + 1)
    runs = [{"id": run_id, "overrides": []} for run_id in ("a", "b")]
    (sweep / "sweep.json").write_text(json.dumps({"sweep": "s", "spec": "x.yaml", "metric": "best_dev_accuracy",
                                                  "runs": runs, "ranking": []}))
    before = {run_id: snapshot(sweep / run_id) for run_id in ("a", "b")}
    assert main(["report", str(sweep)]) == 1
    assert f"{sweep / 'b' / 'summary.json'}: run format version {FORMAT_VERSION + 1}" in capsys.readouterr().err
    assert {run_id: snapshot(sweep / run_id) for run_id in ("a", "b")} == before
    assert sorted(path.name for path in sweep.iterdir()) == ["a", "b", "sweep.json"]
