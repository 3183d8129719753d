"""Secrets: an API key in the environment reaches the server and nothing else. Every file
the commands write (run directory, cache, report, comparison), everything they print (progress,
errors, `--traceback`) and the scripted server's own output are searched for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dlngraph.llm.errors import PermanentError
from dlngraph.llm.openai.http import Endpoint, http_error, redact
from dlngraph.testing.process import ServerProcess
from tests.reliability.cli import SPECS, dlngraph, only_run

KEY = "sk-dlngraph-test-7f3a9c1e5b2d8a64"
KEY_ENV = "DLNGRAPH_RELIABILITY_KEY"


def leaks(texts: list[str], files: list[Path]) -> list[str]:
    """Where the key (or its distinctive tail alone) appears."""
    needles = (KEY, KEY[-16:])
    found = [f"output {index}" for index, text in enumerate(texts) if any(needle in text for needle in needles)]
    for path in files:
        data = path.read_bytes()
        if any(needle.encode() in data for needle in needles):
            found.append(str(path))
    return found


def written(*folders: Path) -> list[Path]:
    files = [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    assert files
    return files


def outputs(*results: subprocess.CompletedProcess[str]) -> list[str]:
    return [text for result in results for text in (result.stdout, result.stderr)]


def test_a_keyed_run_its_eval_report_and_comparison_never_hold_the_key(tmp_path: Path) -> None:
    env = {KEY_ENV: KEY}
    log = tmp_path / "server.log"
    with ServerProcess("--api-key-env", KEY_ENV, log=log, env=env) as server:
        runs = tmp_path / "runs"
        train = dlngraph("train", str(SPECS / "dln1.yaml"), "--base-url", server.base_url, "--api-key-env", KEY_ENV,
                         "--runs", str(runs), "--set", "iterations=2", "--progress", "lines", "--traceback", env=env)
        assert train.returncode == 0, train.stderr
        run = only_run(runs)
        assert f"api_key_env: {KEY_ENV}" in (run / "spec.yaml").read_text()
        resumed = dlngraph("train", "--resume", str(run), "--progress", "json", "--traceback", env=env)
        evaluated = dlngraph("eval", str(run / "final.yaml"), "--base-url", server.base_url, "--api-key-env", KEY_ENV,
                             "--baselines", "--json", "--traceback", env=env)
    report = dlngraph("report", str(run), "--out", str(tmp_path / "report"), env=env)
    compared = dlngraph("compare", str(run), str(run), "--out", str(tmp_path / "compare"), env=env)
    for result in (resumed, evaluated, report, compared):
        assert result.returncode == 0, result.stderr
    assert (run / "cache.sqlite").stat().st_size > 0 and (tmp_path / "report" / "report.html").exists()
    files = written(runs, tmp_path / "report", tmp_path / "compare") + [log]
    assert leaks(outputs(train, resumed, evaluated, report, compared), files) == []


def test_a_refused_key_echoed_by_the_server_is_redacted_from_every_error(tmp_path: Path) -> None:
    """The server wants another key and echoes the one it got (as some proxies do): the
    failure is reported, with --traceback too, and the echoed key is not."""
    with ServerProcess("--api-key-env", "DLNGRAPH_SERVER_ONLY_KEY", env={"DLNGRAPH_SERVER_ONLY_KEY": "sk-the-right-one-000"},
                       log=tmp_path / "server.log") as server:
        results = [
            dlngraph("train", str(SPECS / "dln1.yaml"), "--base-url", server.base_url, "--api-key-env", KEY_ENV,
                     "--runs", str(tmp_path / "runs"), "--set", "iterations=1", "--progress", "lines", *flags, env={KEY_ENV: KEY})
            for flags in ((), ("--traceback",))
        ]
        evaluated = dlngraph("eval", str(SPECS / "dln1.yaml"), "--base-url", server.base_url, "--api-key-env", KEY_ENV,
                             "--limit", "2", "--traceback", env={KEY_ENV: KEY})
    for result in (*results, evaluated):
        assert result.returncode == 1
        assert "HTTP 401: Incorrect API key provided: ***." in result.stderr, result.stderr
    assert "Traceback (most recent call last)" in results[1].stderr
    files = written(tmp_path / "runs") + [tmp_path / "server.log"]
    assert leaks(outputs(*results, evaluated), files) == []


@pytest.mark.parametrize(("reply", "shown"), [
    ('{"error": {"message": "Incorrect API key provided: sk-proj-abcdefgh12345678."}}', "Incorrect API key provided: ***."),
    ('{"detail": "upstream said: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload"}', "upstream said: Authorization: Bearer ***"),
    ('{"error": "bad request {\\"api_key\\": \\"AKIA0123456789ABCDEF\\"}"}', 'bad request {"api_key": "***"}'),
    ("x-api-key=hf_abcdefghijklmnopqrst was refused", "x-api-key=*** was refused"),
    ("plain failure, no credential: bearer of bad news", "plain failure, no credential: bearer of bad news"),
])
def test_credentials_a_server_echoes_are_redacted_whoever_sent_them(reply: str, shown: str) -> None:
    error = http_error(Endpoint(url="http://127.0.0.1:9/v1/completions", model="m"), 400, {}, reply.encode(), api_key="sk-ours-12345678")
    assert isinstance(error, PermanentError)
    assert str(error) == f"model 'm' at http://127.0.0.1:9/v1/completions: HTTP 400: {shown}"


def test_our_own_key_is_redacted_whatever_its_shape() -> None:
    assert redact("you sent plainword42, which is wrong", "plainword42") == "you sent ***, which is wrong"
