"""The data seed: runs with different training seeds, and `eval`, score the same dev and test
examples (issue 29: capped `files` subsets were drawn with the training seed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from dlngraph.runs import TrainOptions, evaluate_splits, train_spec
from dlngraph.testing.server import ScriptedServer

SPEC = """
name: capped
models:
  m: {backend: openai, base_url: "http://127.0.0.1:9/v1"}
nodes:
  - {kind: lm, id: answer, model: m, template: classify, prompt: "Is it good?", classes: [Yes|yes, No|no]}
output: answer
training: {iterations: 1, batch_size: 4, num_p_samples: 2}
data:
  source: files
  format: jsonl
  train: train.jsonl
  dev: dev.jsonl
  test: test.jsonl
  max_train: 20
  max_dev: 6
  max_test: 6
"""


def write_split(path: Path, split: str, count: int) -> None:
    rows = [{"input": f"{split} item {index}", "target": "Yes" if index % 2 else "No"} for index in range(count)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def items_asked(server: ScriptedServer, split: str) -> set[str]:
    """The examples of `split` whose input reached the model since the last reset."""
    return {match for body in server.stats.bodies for match in re.findall(rf"{split} item \d+", json.dumps(body))}


async def test_three_training_seeds_and_eval_score_the_same_examples(tmp_path: Path) -> None:
    (tmp_path / "capped.yaml").write_text(SPEC)
    for split, count in (("train", 40), ("dev", 40), ("test", 40)):
        write_split(tmp_path / f"{split}.jsonl", split, count)
    seen: list[tuple[set[str], set[str]]] = []
    async with ScriptedServer(max_bodies=100_000) as server:
        for seed in (1, 2, 3):
            server.stats.reset()
            options = TrainOptions(runs_root=tmp_path / "runs", overrides=[f"seed={seed}"], base_url=server.base_url)
            summary = await train_spec(tmp_path / "capped.yaml", options)
            assert summary.stopped == "completed"
            seen.append((items_asked(server, "dev"), items_asked(server, "test")))
        server.stats.reset()
        await evaluate_splits(tmp_path / "capped.yaml", splits=("dev", "test"), base_url=server.base_url)
        seen.append((items_asked(server, "dev"), items_asked(server, "test")))
    dev, test = seen[0]
    assert len(dev) == 6 and len(test) == 6
    assert all(run == (dev, test) for run in seen)
