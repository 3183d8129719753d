"""The paper's baselines on any spec: 0-shot from the spec's own prompt when the data has no
instruction, k-shot as the mean over seeded random draws of training examples, with its spread."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pytest

from dlngraph.data import Dataset, Example
from dlngraph.engine.node_ops import render_lm
from dlngraph.runs import evaluate_splits
from dlngraph.runs.evaluate import KSHOT_DRAWS, Spread, baseline_network, kshot_draws
from dlngraph.spec import load_spec_text
from dlngraph.spec.nodes import INPUT
from dlngraph.testing.process import ServerProcess
from dlngraph.testing.server import ScriptedServer
from tests.runs.test_cli_train import dlngraph

SPEC = """
name: no-instruction
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
nodes:
  - {kind: lm, id: answer, model: m, template: classify, prompt: "Is the item odd?", classes: [Yes|yes, No|no]}
output: answer
training: {seed: SEED}
data: {source: files, format: jsonl, train: train.jsonl, test: test.jsonl}
"""
"""A `files` spec whose data offers no instruction."""


def write_task(folder: Path, seed: int = 42) -> Path:
    for split, count in (("train", 30), ("test", 8)):
        rows = [{"input": f"{split} item {index}", "target": "Yes" if index % 2 else "No"} for index in range(count)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.replace("SEED", str(seed)))
    return spec


def prompts(server: ScriptedServer) -> list[str]:
    return [prompt for body in server.stats.bodies for prompt in
            (body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]])]


async def test_the_baselines_of_a_spec_whose_data_has_no_instruction(tmp_path: Path) -> None:
    spec = write_task(tmp_path)
    async with ScriptedServer(max_bodies=10_000) as server:
        (report,) = await evaluate_splits(spec, splits=["test"], baselines="only", shots=3, base_url=server.base_url)
    zero, kshot = report.rows
    assert (zero.system, kshot.system) == ("0-shot", "3-shot")
    assert zero.draws == [] and zero.failed == 0
    assert len(kshot.draws) == KSHOT_DRAWS and kshot.count == 8 and kshot.failed == 0
    assert kshot.accuracy == pytest.approx(statistics.fmean(kshot.draws))
    assert kshot.calls == 5 * 8 and zero.calls == 8
    asked = prompts(server)
    assert all(prompt.startswith("Is the item odd?") for prompt in asked)  # the spec's own prompt
    demonstrations = {tuple(re.findall(r"train item \d+", prompt)) for prompt in asked}
    assert len(demonstrations - {()}) == KSHOT_DRAWS and all(len(shown) in (0, 3) for shown in demonstrations)


async def test_the_draws_stay_the_same_whatever_the_training_seed(tmp_path: Path) -> None:
    reports = []
    async with ScriptedServer() as server:
        for seed in (1, 2):
            folder = tmp_path / str(seed)
            folder.mkdir()
            reports.append(await evaluate_splits(write_task(folder, seed), splits=["test"], baselines="only", shots=2,
                                                 draws=3, base_url=server.base_url))
    assert reports[0][0].rows == reports[1][0].rows


def test_kshot_draws_are_seeded_distinct_and_keep_their_first_draws() -> None:
    train = [Example(input=f"x{index}", target="ab"[index % 2], id=f"train:{index}") for index in range(40)]
    five = kshot_draws(train, 4, 5)
    assert five == kshot_draws(train, 4, 5)
    assert kshot_draws(train, 4, 2) == five[:2]
    assert len({tuple(example.id for example in draw) for draw in five}) == 5
    with pytest.raises(ValueError, match="at least 1 draw"):
        kshot_draws(train, 4, 0)


def test_the_kshot_prompt_shows_the_instruction_then_each_example_solved() -> None:
    spec = dlngraph_spec()
    dataset = Dataset(name="sums", train=[], dev=[], test=[], instruction="Add.")
    shown = [Example(input="2+2?", target="4", id="train:1"), Example(input="3+3?", target="6", id="train:2")]
    for examples, expected in [
        (shown, "Add.\n\n2+2?\nAnswer: 4\n\n3+3?\nAnswer: 6\n\n5+5?\nAnswer:"),
        ([], "Add.\n\n5+5?\nAnswer:"),
    ]:
        network = baseline_network(spec, dataset, examples)
        node = network.node("answer")
        assert render_lm(network, node, node.prompt, {INPUT: "5+5?"}) == expected


def dlngraph_spec():
    return load_spec_text(
        "name: sums\n"
        "models: {m: {backend: openai, model: x, base_url: 'http://127.0.0.1:1/v1'}}\n"
        "nodes: [{kind: lm, id: a, model: m, template: classify, prompt: Sum., classes: ['4', '6', '10']}]\n"
        "output: a\n"
    ).spec


def test_spread_is_the_range_and_standard_deviation() -> None:
    spread = Spread.of([0.5, 0.7, 0.9])
    assert (spread.low, spread.high) == (0.5, 0.9) and spread.std == pytest.approx(0.16330, abs=1e-5)
    assert spread.describe() == "0.500-0.900, std 0.163"


def test_eval_prints_the_kshot_mean_with_its_spread(tmp_path: Path) -> None:
    spec = write_task(tmp_path)
    with ServerProcess() as server:
        result = dlngraph("eval", str(spec), "--split", "test", "--baselines", "--shots", "2", "--kshot-draws", "4",
                          "--base-url", server.base_url)
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.split()}
    assert "0-shot" in rows and "spec" in rows
    assert re.search(r"^2-shot\s+\d\.\d{3}\s+8\s+0  mean of 4 draws: \d\.\d{3}-\d\.\d{3}, std \d\.\d{3}$", rows["2-shot"])
