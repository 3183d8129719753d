"""Real run directories for the report tests, made the way users make them: by training.

- `finished_run`: the shipped dln2 spec trained for 3 steps by `train_spec` (the code behind
  `dlngraph train`) against the scripted server: spec, events, checkpoint, final spec, summary.
- `unfinished_run`: a one-layer network trained by the `Trainer` alone, as a run still going
  looks: no summary.json. Its models propose prompts full of HTML, as a model may.

Both are made once per test session (about 3 s together), and so are their reports
(`finished_report`, made by the `dlngraph report` command, and `unfinished_report`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from dlngraph.cli.main import main
from dlngraph.dln.rundir import RunDirectory
from dlngraph.dln.trainer import Trainer
from dlngraph.graph import compile_network
from dlngraph.llm.pool import ModelPool
from dlngraph.report.run_report import REPORT_FILE, write_report
from dlngraph.runs import TrainOptions, train_spec
from dlngraph.spec import dump_spec
from dlngraph.spec.training import TrainingSpec
from dlngraph.testing.server import Script, ScriptedServer
from tests.scripted import DLN1, SPECS_DIR, Example, network_from_text

TRAIN = [Example(f"Q{i} walk", "Yes" if i % 2 else "No") for i in range(8)]
DEV = [Example(f"Q{i} walk", "Yes" if i % 2 else "No") for i in range(8, 14)]

GOOD = 'GOOD: say "<b>Yes</b>" & mean it'
"""A proposal that wins: right on every example. Its markup must show as text in a report."""
BAD = "BAD <script>alert('owned')</script>"
"""A proposal that loses: a report that ran it would be a hole."""


def hostile_script() -> Script:
    script = Script().answer(r"(?s)instruction:\nCURRENT.*New instruction:", GOOD, BAD)
    script.answer(r"(?s)instruction:\nGOOD.*New instruction:", GOOD, BAD)
    for i in range(14):
        right, wrong = (" Yes", " No") if i % 2 else (" No", " Yes")
        script.class_logprobs(rf"(?s)GOOD.*Q{i} walk", {right: -0.05, wrong: -3.0})
        script.class_logprobs(rf"(?s)BAD.*Q{i} walk", {wrong: -0.05, right: -3.0})
    return script


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("finished")

    async def train() -> Path:
        async with ScriptedServer() as server:
            options = TrainOptions(runs_root=root, base_url=server.base_url,
                                   overrides=["iterations=3", "val_freq=1", "do_first_eval=true"])
            summary = await train_spec(SPECS_DIR / "dln2.yaml", options)
        return Path(summary.run_dir)

    return asyncio.run(train())


@pytest.fixture(scope="session")
def unfinished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    net = network_from_text(DLN1)
    training = TrainingSpec(iterations=3, batch_size=4, num_p_samples=3, backward_model="back", val_freq=2, seed=3)
    net = compile_network(msgspec.structs.replace(net.spec, training=training))
    run = RunDirectory.create(tmp_path_factory.mktemp("unfinished"), "dln1")
    run.write_spec(dump_spec(net.spec))

    async def train() -> None:
        async with ScriptedServer(script=hostile_script()) as server:
            pool = ModelPool.from_specs(net.spec.models, base_url=server.base_url)
            async with pool:
                trainer = Trainer(net, pool, train=TRAIN, dev=DEV, labels=["Yes", "No"], run=run, usage=pool.usage)
                await trainer.fit()

    asyncio.run(train())
    return run.path


@pytest.fixture(scope="session")
def finished_report(finished_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished-report")
    assert main(["report", str(finished_run), "--out", str(out)]) == 0
    return out / REPORT_FILE


@pytest.fixture(scope="session")
def unfinished_report(unfinished_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(unfinished_run, tmp_path_factory.mktemp("unfinished-report"))
