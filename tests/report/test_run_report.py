"""`dlngraph report RUN_DIR` on real runs: the files it writes, and what the page holds."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import pytest

from dlngraph.cli.main import main
from dlngraph.report.run_report import CURVES, NETWORK_PICTURE, USAGE_CHART
from dlngraph.report.runlog import read_run
from tests.report.conftest import BAD, GOOD
from tests.report.pictures import assert_picture

PICTURES = [*CURVES, USAGE_CHART, NETWORK_PICTURE]
DATA_IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')


def test_the_command_writes_the_page_and_every_picture(finished_report: Path) -> None:
    for name in PICTURES:
        assert_picture(finished_report.parent / name)


def test_every_chart_is_embedded_in_the_page_as_a_picture(finished_report: Path) -> None:
    page = finished_report.read_text()
    images = {html.unescape(alt): base64.b64decode(data) for data, alt in DATA_IMAGE.findall(page)}
    assert {curve.alt for curve in CURVES.values()} <= set(images)
    assert "the network's graph" in images and "calls and tokens per node and phase" in images
    for png in images.values():
        assert_picture(png)
    for name in PICTURES:  # the page shows exactly the files written beside it
        assert (finished_report.parent / name).read_bytes() in images.values()


def test_the_page_is_self_contained(finished_report: Path) -> None:
    page = finished_report.read_text()
    assert not re.search(r"""(src|href)=["'](?!data:)""", page), "the page refers to a file or URL"
    assert "<script" not in page and "<link" not in page and "@import" not in page


def test_the_page_shows_every_prompt_over_time_with_its_score(finished_run: Path, finished_report: Path) -> None:
    page = finished_report.read_text()
    assert "Follow the moves one by one and keep track of the position." in page  # the spec's prompt, at the start
    for line in (finished_run / "events.jsonl").read_text().splitlines():
        for prompt in json.loads(line)["prompts"].values():
            assert html.escape(prompt) in page
    assert "score -" in page and "Best candidates per step" in page and "Step 3" in page
    assert "Hidden nodes" in page and "By phase" in page and "By node" in page


def test_prompts_written_by_models_show_as_text_never_as_markup(unfinished_report: Path) -> None:
    page = unfinished_report.read_text()
    assert "<script>alert" not in page and "<b>Yes</b>" not in page
    assert "BAD &lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    assert "GOOD: say &quot;&lt;b&gt;Yes&lt;/b&gt;&quot; &amp; mean it" in page
    assert GOOD not in page and BAD not in page


def test_an_unfinished_run_reports_what_it_has_and_says_what_is_missing(unfinished_report: Path) -> None:
    page = unfinished_report.read_text()
    assert "summary.json is missing" in page and "unfinished" in page
    assert len(DATA_IMAGE.findall(page)) == len(PICTURES)


def test_a_run_without_iterations_gets_a_page_written_into_its_directory(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(finished_run / "spec.yaml", tmp_path / "spec.yaml")
    assert main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'report.html'}"
    page = (tmp_path / "report.html").read_text()
    assert "no iteration is logged yet" in page
    assert len(DATA_IMAGE.findall(page)) == len(PICTURES)
    assert_picture(tmp_path / "network.png")


def test_the_command_refuses_a_folder_that_is_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 1
    assert "not a run directory" in capsys.readouterr().err


def test_the_overview_reads_start_to_best(finished_run: Path, finished_report: Path) -> None:
    summary = read_run(finished_run).summary
    assert summary is not None and summary.initial_dev_accuracy is not None and summary.best_dev_accuracy is not None
    page = finished_report.read_text()
    expected = f"{summary.initial_dev_accuracy:.1%} at start -&gt; {summary.best_dev_accuracy:.1%} best"
    assert expected in page
