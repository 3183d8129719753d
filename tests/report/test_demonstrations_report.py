"""The report and `compare` show a run's demonstrations: the run trained with demonstrations
(one of them full of markup, as a training example may be), read back from its directory."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from dlngraph.cli.main import main
from dlngraph.report.runlog import read_run
from dlngraph.report.tables import prompt_history
from dlngraph.runs import TrainOptions, train_spec
from dlngraph.spec import Demonstration, load_spec
from dlngraph.testing.server import ScriptedServer
from tests.scripted import SPECS_DIR

MARKUP = Demonstration(input="Take <b>1</b> step & <script>alert(1)</script>", output="No", source="train-41")
PLAIN = Demonstration(input="Take 1 step. Take 1 step backward.", output="Yes", source="train-7")


@pytest.fixture(scope="module")
def demonstrated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = load_spec(SPECS_DIR / "dln1.yaml").spec
    node = msgspec.structs.replace(spec.nodes[0], demonstrations=[PLAIN, MARKUP])
    training = msgspec.structs.replace(spec.training, iterations=2, num_demos=0)  # shown as given, not learned
    spec = msgspec.structs.replace(spec, nodes=[node], training=training)
    root = tmp_path_factory.mktemp("demonstrated")

    async def train() -> Path:
        async with ScriptedServer() as server:
            summary = await train_spec(spec, TrainOptions(runs_root=root, base_url=server.base_url), base_dir=SPECS_DIR)
        return Path(summary.run_dir)

    return asyncio.run(train())


def test_the_run_log_knows_the_demonstrations_at_every_step(demonstrated_run: Path) -> None:
    run = read_run(demonstrated_run)
    assert run.demonstrations == {"answer": [PLAIN, MARKUP]}
    rows = prompt_history(run)
    assert [list(row.cells["answer"].demonstrations) for row in rows] == [[PLAIN, MARKUP]] * 3
    assert not any(row.cells["answer"].changed for row in rows)


def test_the_report_shows_them_as_text_with_their_sources(demonstrated_run: Path, tmp_path: Path) -> None:
    assert main(["report", str(demonstrated_run), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    section = page[page.index("<h2>Demonstrations</h2>"):page.index("<h2>Best candidates per step</h2>")]
    assert "answer: 2 demonstrations" in section and "train-7" in section and "train-41" in section
    assert "Take &lt;b&gt;1&lt;/b&gt; step &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "<script>alert" not in page
    assert page.count("<summary>2 demonstrations</summary>") == 3  # the start and both steps
    assert "<th>demonstrations</th>" in page and "train-7, train-41" in page  # what each candidate showed


def test_compare_lists_them_under_the_table(demonstrated_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(demonstrated_run), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"\n{demonstrated_run.name}: 2 demonstrations at answer\n" in out
    assert "  [train-7] Take 1 step. Take 1 step backward. -> Yes\n" in out
    assert "  [train-41] Take <b>1</b> step & <script>alert(1)</script> -> No\n" in out
    page = (tmp_path / "compare.html").read_text()
    assert "<h2>Demonstrations</h2>" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
