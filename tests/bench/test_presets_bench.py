"""benchmarks/bench_presets.py moves the demo's specs onto each preset and changes nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlngraph.data import load_dataset
from dlngraph.spec import load_spec_text
from tests.bench import load_benchmark
from tests.data.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]



@pytest.mark.parametrize("task", ["navigate", "hyperbaton", "subj", "trec"])
def test_each_preset_gets_the_demo_s_training_and_models_and_its_own_data_and_classes(task: str) -> None:
    if not (SHARED_DATA / "bbh").is_dir():
        pytest.skip(f"the paper's data is not at {SHARED_DATA}")
    module = load_benchmark("bench_presets")
    specs = module.preset_specs(task, SHARED_DATA, cap=100)
    paper = yaml.safe_load((ROOT / "specs" / "paper" / f"{task}-dln1.yaml").read_text())
    for name, moved in specs.items():
        demo = yaml.safe_load((ROOT / "specs" / "demo" / f"{name}.yaml").read_text())
        assert moved["training"] == demo["training"] and moved["models"] == demo["models"]
        output = next(node for node in moved["nodes"] if node["id"] == moved["output"])
        assert output["classes"] == paper["nodes"][0]["classes"] and output["prompt"] == paper["nodes"][0]["prompt"]
        assert [node["template"] for node in moved["nodes"]] == [node["template"] for node in demo["nodes"]]
        loaded = load_spec_text(yaml.safe_dump(moved), f"{task}-{name}.yaml").spec
        data = load_dataset(loaded.data, base_dir=ROOT)
        assert (len(data.dev), len(data.test)) == (100, 100)


def test_training_overrides_reach_the_demo_of_every_task(tmp_path: Path) -> None:
    module = load_benchmark("bench_presets")
    args = module.parse_args(["--set", "batch_size=16", "--set", "selection_z=0", "--runs", str(tmp_path)])
    command = module.demo_command(tmp_path / "trec", args)
    assert command[command.index("--specs") + 1] == str(tmp_path / "trec" / "specs")
    assert [command[i + 1] for i, word in enumerate(command) if word == "--set"] == ["batch_size=16", "selection_z=0"]
