"""A run whose model is served by two scripted servers, one killed mid-run, ends as on one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

from dlngraph.runs import TrainOptions, train_spec
from dlngraph.testing.process import ServerProcess

SPEC = """\
name: pooled
models:
  fast: {{backend: openai, base_url: {urls}, sampling: {{temperature: 0.0, max_tokens: 32}}}}
  backward: {{backend: openai, base_url: {urls}, sampling: {{temperature: 0.7, max_tokens: 64}}}}
nodes:
  - kind: lm
    id: reason
    model: fast
    template: forward_cot
    prompt: Follow the moves one by one.
  - kind: lm
    id: answer
    model: fast
    template: classify_residual
    inputs: [reason]
    residual: [input]
    prompt: Do the moves end at the start? Answer Yes or No.
    classes: [Yes|yes, No|no]
output: answer
training: {{iterations: 3, batch_size: 4, num_p_samples: 2, num_h_samples: 2, backward_model: backward}}
data: {{source: generated, task: navigate, sizes: {{train: 12, dev: 8, test: 8}}}}
"""


def outcome(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return {
        "summary": {key: summary[key] for key in ("best_prompts", "best_dev_accuracy", "test_accuracy", "iterations_run")},
        "events": [{key: event.get(key) for key in ("prompts", "batch_loss", "dev_accuracy")} for event in events],
    }


async def train(tmp_path: Path, name: str, urls: list[str], kill: ServerProcess | None = None) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(urls=json.dumps(urls)))
    run_dir = tmp_path / name

    async def kill_after_the_first_iteration() -> None:
        assert kill is not None
        while not (run_dir / "checkpoint.json").exists() or \
                json.loads((run_dir / "checkpoint.json").read_text())["iteration"] < 1:
            await asyncio.sleep(0.01)
        os.kill(kill.pid, signal.SIGKILL)  # at once, with the next iteration's calls starting

    async with asyncio.TaskGroup() as group:
        killer = group.create_task(kill_after_the_first_iteration()) if kill is not None else None
        summary = await train_spec(spec, TrainOptions(run_dir=run_dir))
        assert killer is None or killer.done(), "the run ended before the server was killed"
    assert summary.iterations_run == 3
    return run_dir


async def test_a_pool_that_loses_a_server_mid_run_ends_as_a_run_on_one_server(tmp_path: Path) -> None:
    async with ServerProcess("--latency-ms", "10") as first, ServerProcess("--latency-ms", "10") as second:
        alone = await train(tmp_path, "alone", [first.base_url])
        pooled = await train(tmp_path, "pooled", [first.base_url, second.base_url], kill=second)
    assert outcome(pooled) == outcome(alone)
    iterations = [json.loads(line) for line in (pooled / "events.jsonl").read_text().splitlines()][1:]
    first_use = iterations[0]["usage"]["by_endpoint"]
    assert first_use[first.base_url]["requests"] > 0 and first_use[second.base_url]["requests"] > 0  # both served
    last_use = iterations[-1]["usage"]["by_endpoint"]
    assert last_use[second.base_url]["requests"] == 0 and last_use[first.base_url]["requests"] > 0  # only the survivor
    taken_out = sum(event["usage"]["by_endpoint"][second.base_url]["taken_out"] for event in iterations)
    assert taken_out >= 1
    from dlngraph.report.run_report import write_report

    page = write_report(pooled, tmp_path / "report").read_text()
    table = page[page.index("By endpoint"):]
    assert first.base_url in table and second.base_url in table and "mean latency" in table
