"""The paper's four tasks, split as the paper's code split them, from the shared data folder."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import msgspec
import pytest

from dlngraph.data import DataError, Dataset, load_dataset
from dlngraph.data.legacy_rng import LegacyRandomState
from dlngraph.data.presets import INSTRUCTIONS, load_preset
from dlngraph.spec.data import PresetData
from tests.data.conftest import REPO_ROOT

SIZES = {"navigate": (375, 375, 250), "hyperbaton": (1000, 300, 250), "subj": (1000, 256, 250), "trec": (1000, 256, 250)}
LABELS = {
    "navigate": ["Yes", "No"],
    "hyperbaton": ["(A)", "(B)"],
    "subj": ["subjective", "objective"],
    "trec": ["description", "entity", "expression", "human", "location", "number"],
}


@cache
def preset(name: str, data_dir: Path, seed: int = 42) -> Dataset:
    return load_preset(name, data_dir, seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(SIZES))
def test_split_sizes_labels_and_instruction(name: str, shared_data: Path) -> None:
    data = preset(name, shared_data)
    assert (len(data.train), len(data.dev), len(data.test)) == SIZES[name]
    assert data.labels == LABELS[name]
    assert all(example.target in LABELS[name] for example in data.train + data.dev + data.test)
    assert data.instruction == INSTRUCTIONS[name]


@pytest.mark.parametrize("name", list(SIZES))
def test_same_seed_same_splits(name: str, shared_data: Path) -> None:
    assert load_preset(name, shared_data) == preset(name, shared_data)  # a fresh load, not the cached one
    assert preset(name, shared_data, seed=7).train != preset(name, shared_data).train


@pytest.mark.parametrize("name", list(SIZES))
def test_splits_do_not_overlap(name: str, shared_data: Path) -> None:
    data = preset(name, shared_data)
    ids = [example.id for example in data.train + data.dev + data.test]
    assert len(set(ids)) == len(ids)


def test_navigate_halves_the_big_bench_pool_and_tests_on_bbh(shared_data: Path) -> None:
    data = preset("navigate", shared_data)
    pool = json.loads((shared_data / "bb_minus_bbh" / "navigate.json").read_text())["examples"]
    bbh = json.loads((shared_data / "bbh" / "navigate.json").read_text())["examples"]
    assert sorted(example.input for example in data.train + data.dev) == sorted(row["input"] for row in pool)
    assert [(example.input, example.target) for example in data.test] == [(row["input"], row["target"]) for row in bbh]
    order = list(range(len(pool)))
    LegacyRandomState(42).shuffle(order)
    assert [example.id for example in data.train] == [f"bb_minus_bbh:{index}" for index in order[:375]]


def test_hyperbaton_option_shuffle_keeps_the_right_answer(shared_data: Path) -> None:
    pool = json.loads((shared_data / "bb_minus_bbh" / "hyperbaton.json").read_text())["examples"]
    data = preset("hyperbaton", shared_data)
    moved = 0
    for example in data.train + data.dev:
        original = pool[int(example.id.split(":")[1])]
        assert _chosen_option(example.input, example.target) == _chosen_option(original["input"], original["target"])
        moved += example.target != original["target"]
    assert 0.3 < moved / len(data.train + data.dev) < 0.7  # about half the options swapped


def _chosen_option(text: str, target: str) -> str:
    lines = text.partition("\nOptions:\n")[2].split("\n")
    return next(line[4:] for line in lines if line.startswith(target))


@pytest.mark.parametrize("name", ["subj", "trec"])
def test_nlu_rows_get_label_words_and_options(name: str, shared_data: Path) -> None:
    data = preset(name, shared_data)
    options = "\nOptions:\n" + "\n".join(f"- {word}" for word in LABELS[name])
    assert all(example.input.endswith(options) for example in data.train + data.dev + data.test)
    dev_rows = (shared_data / "nlu" / name / "dev_subsample.jsonl").read_text().splitlines()
    first = json.loads(dev_rows[0])
    assert data.dev[0].input == first["sentence"] + options
    assert data.dev[0].target == LABELS[name][int(first["label"])]


def test_nlu_draws_match_numpy(shared_data: Path) -> None:
    """The rows are those `numpy.random.RandomState(42).choice` picks in the reference code."""
    numpy = pytest.importorskip("numpy")
    rng = numpy.random.RandomState(42)
    train_rows = len((shared_data / "nlu" / "trec" / "train.jsonl").read_text().splitlines())
    test_rows = len((shared_data / "nlu" / "trec" / "test.jsonl").read_text().splitlines())
    train_lines = [int(index) + 1 for index in rng.choice(train_rows, 1000, replace=False)]
    test_lines = [int(index) + 1 for index in rng.choice(test_rows, 250, replace=False)]
    data = preset("trec", shared_data)
    assert [example.id for example in data.train] == [f"train:{line}" for line in train_lines]
    assert [example.id for example in data.test] == [f"test:{line}" for line in test_lines]


def test_load_dataset_resolves_data_dir_against_the_spec_folder(shared_data: Path) -> None:
    """A relative data_dir, `../shared/data`, is read from the spec's folder (the repository root)."""
    if shared_data != REPO_ROOT.parent / "shared" / "data":
        pytest.skip("shared data is not beside the repository")
    spec = PresetData(name="navigate", data_dir="../shared/data")
    data = load_dataset(spec, base_dir=REPO_ROOT)
    assert data == preset("navigate", shared_data)  # the paper's split by default
    assert load_dataset(msgspec.structs.replace(spec, seed=7), base_dir=REPO_ROOT) == preset("navigate", shared_data, seed=7)


def test_load_dataset_prefers_the_spec_instruction(shared_data: Path) -> None:
    spec = PresetData(name="subj", data_dir=str(shared_data), instruction="Is it an opinion?")
    assert load_dataset(spec, base_dir=Path("/nowhere")).instruction == "Is it an opinion?"


def test_missing_data_dir_names_the_spec_field(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing.*data\.data_dir: the preset data folder does not exist"):
        load_dataset(PresetData(name="trec", data_dir="missing"), base_dir=tmp_path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bbh").mkdir()
    with pytest.raises(DataError, match=r"bb_minus_bbh/navigate\.json: file not found"):
        load_preset("navigate", tmp_path)


def test_caps_draw_subsets_that_the_training_seed_never_moves(shared_data: Path) -> None:
    """`max_dev`/`max_test` keep a random subset of the paper's split, drawn with the data's seed
    (the spec's training seed is not even an input), and a bad cap is named by its field."""
    full = load_dataset(PresetData(name="subj", data_dir=str(shared_data)), base_dir=REPO_ROOT)
    capped = load_dataset(PresetData(name="subj", data_dir=str(shared_data), max_dev=100, max_test=100), base_dir=REPO_ROOT)
    again = load_dataset(PresetData(name="subj", data_dir=str(shared_data), max_dev=100, max_test=100), base_dir=REPO_ROOT)
    assert (len(capped.train), len(capped.dev), len(capped.test)) == (len(full.train), 100, 100)
    assert {example.id for example in capped.test} <= {example.id for example in full.test}
    assert [example.id for example in capped.test] == [example.id for example in again.test]
    assert [example.id for example in capped.test] != [example.id for example in full.test[:100]]
    with pytest.raises(DataError, match=r"data\.max_test"):
        load_dataset(PresetData(name="subj", data_dir=str(shared_data), max_test=0), base_dir=REPO_ROOT)
