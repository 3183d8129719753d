"""specs/paper/: the paper's own configurations (microsoft/deep-language-networks at 036d895)
load, compile, read their data, and train with the settings of the script each names."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlngraph.data import load_dataset
from dlngraph.data.presets import BBH_LABELS
from dlngraph.engine.answer_labels import label_of
from dlngraph.graph import compile_network
from dlngraph.spec import load_spec
from dlngraph.spec.classes import parse_classes

PAPER = Path(__file__).resolve().parents[2] / "specs" / "paper"
TASKS = ["navigate", "hyperbaton", "subj", "trec"]

ONE_LAYER = {  # scripts/one_layer/one_layer.py, with one-layer-dln-hp-search-result.json
    "navigate": {"tolerance": -1, "use_memory": 2, "held_out_prompt_ranking": True},
    "hyperbaton": {"tolerance": -1, "use_memory": 0, "held_out_prompt_ranking": True},
    "subj": {"tolerance": 2, "use_memory": 0, "held_out_prompt_ranking": True},
    "trec": {"tolerance": 2, "use_memory": 2, "held_out_prompt_ranking": False},
}
ONE_LAYER_COMMON = {"iterations": 20, "batch_size": 20, "num_p_samples": 20, "balance_batch": True, "do_first_eval": True}
TWO_LAYERS = {  # scripts/two_layers_e2e/navigate.sh and phi2_gpt35_DLN-2.sh
    "iterations": 20, "batch_size": 10, "num_p_samples": 10, "num_h_samples": 10, "use_memory": 5, "tolerance": 2,
    "held_out_prompt_ranking": True, "trust_factor": 5.0, "logp_penalty": 2.0, "posterior_temp": 1.0,
    "balance_batch": True, "include_h1": False, "burn_in_ratio": 0.05,
}


def test_there_is_a_dln1_and_a_dln2_spec_per_task() -> None:
    assert sorted(path.name for path in PAPER.glob("*.yaml")) == sorted(
        f"{task}-dln{depth}.yaml" for task in TASKS for depth in (1, 2)
    )


@pytest.mark.parametrize("task", TASKS)
def test_the_dln1_spec_has_one_layer_py_settings(task: str) -> None:
    loaded = load_spec(PAPER / f"{task}-dln1.yaml")
    network = compile_network(loaded.spec)
    assert list(network.trainable) == ["answer"] and not loaded.warnings
    training = loaded.spec.training
    for field, value in {**ONE_LAYER_COMMON, **ONE_LAYER[task]}.items():
        assert getattr(training, field) == value, field


@pytest.mark.parametrize("task", TASKS)
def test_the_dln2_spec_has_its_scripts_settings(task: str) -> None:
    loaded = load_spec(PAPER / f"{task}-dln2.yaml")
    network = compile_network(loaded.spec)
    assert sorted(network.trainable) == ["answer", "reason"]
    assert loaded.spec.nodes[0].prompt == ""  # init_p1, a warning only
    assert [warning.path for warning in loaded.warnings] == ["nodes[0].prompt"]
    training = loaded.spec.training
    for field, value in TWO_LAYERS.items():
        assert getattr(training, field) == value, field
    assert training.strip_options_for_hidden is (task == "navigate")  # only navigate.sh sets it
    assert training.do_first_eval is (task != "navigate")


@pytest.mark.parametrize("name", [f"{task}-dln{depth}" for task in TASKS for depth in (1, 2)])
def test_every_target_of_the_paper_data_is_one_of_the_spec_classes(name: str) -> None:
    loaded = load_spec(PAPER / f"{name}.yaml")
    data_dir = (PAPER / loaded.spec.data.data_dir).resolve()
    if not data_dir.is_dir():
        pytest.skip(f"the paper's data is not at {data_dir}")
    dataset = load_dataset(loaded.spec.data, base_dir=PAPER)
    classes = parse_classes(loaded.spec.nodes[-1].classes)
    targets = {example.target for split in (dataset.train, dataset.dev, dataset.test) for example in split}
    assert targets and all(label_of(target, classes) is not None for target in targets)
    if name.startswith(tuple(BBH_LABELS)):
        assert targets == set(BBH_LABELS[name.split("-")[0]])
