"""`load_dataset`: the spec's `data` section, for each source, into a `Dataset`."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from dlngraph.data import DataError, load_dataset
from dlngraph.data.tasks.navigate import answer
from dlngraph.spec.data import FileData, GeneratedData, SplitSizes


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def rows(count: int, start: int = 0) -> list[dict]:
    return [{"text": f"sentence {i}", "label": str(i % 2)} for i in range(start, start + count)]


LABEL_MAP = {"0": "negative", "1": "positive"}


def ids(examples) -> list[str]:
    return [example.id for example in examples]


# generated


def test_generated_uses_sizes_params_and_the_data_seed() -> None:
    spec = GeneratedData(task="navigate", sizes=SplitSizes(train=10, dev=6, test=4), params={"max_steps": 4})
    data = load_dataset(spec, base_dir=Path("."))
    assert (len(data.train), len(data.dev), len(data.test)) == (10, 6, 4)
    assert all(answer(e.input) == e.target for e in data.train + data.dev + data.test)
    assert data.instruction == "Read the following sentence, then determine whether you return to the starting point."
    assert load_dataset(spec, base_dir=Path(".")) == data
    assert load_dataset(msgspec.structs.replace(spec, seed=2), base_dir=Path(".")) != data


def test_generated_spec_seed_and_instruction() -> None:
    spec = GeneratedData(task="object_counting", seed=5, instruction="Count them.")
    first = load_dataset(spec, base_dir=Path("."))
    assert first == load_dataset(GeneratedData(task="object_counting", seed=5, instruction="Count them."), base_dir=Path("."))
    assert first.instruction == "Count them."
    assert first.labels is None


def test_generated_errors_name_the_spec_field() -> None:
    with pytest.raises(DataError, match=r"data\.sizes\.dev: expected a size of 0 or more"):
        load_dataset(GeneratedData(task="navigate", sizes=SplitSizes(dev=-1)), base_dir=Path("."))


# files


def test_files_with_all_splits_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    for name, count in (("train", 6), ("dev", 4), ("test", 2)):
        write_jsonl(tmp_path / "data" / f"{name}.jsonl", rows(count))
    spec = FileData(format="jsonl", train="data/train.jsonl", dev="data/dev.jsonl", test="data/test.jsonl",
                    input_field="text", target_field="label", label_map=LABEL_MAP)
    data = load_dataset(spec, base_dir=tmp_path)
    assert (len(data.train), len(data.dev), len(data.test)) == (6, 4, 2)
    assert data.labels == ["negative", "positive"]
    assert data.name == "train" and data.instruction is None
    assert data.dev[1].target == "positive" and data.dev[1].id == "dev:2"


def test_dev_is_carved_from_train_by_seed(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(40))
    spec = FileData(format="jsonl", train="train.jsonl", input_field="text", target_field="label", dev_fraction=0.25)
    data = load_dataset(spec, base_dir=tmp_path)
    assert (len(data.train), len(data.dev), data.test) == (30, 10, [])
    assert sorted(ids(data.train + data.dev)) == sorted(f"train:{line}" for line in range(1, 41))
    assert ids(data.dev) == sorted(ids(data.dev), key=lambda i: int(i.split(":")[1]))  # file order
    assert load_dataset(spec, base_dir=tmp_path) == data
    assert ids(load_dataset(msgspec.structs.replace(spec, seed=4), base_dir=tmp_path).dev) != ids(data.dev)


def test_max_sizes_keep_a_seeded_subset(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(50))
    write_jsonl(tmp_path / "test.jsonl", rows(30))
    spec = FileData(format="jsonl", train="train.jsonl", test="test.jsonl", input_field="text", target_field="label",
                    dev_fraction=0.2, max_train=12, max_dev=5, max_test=7)
    data = load_dataset(spec, base_dir=tmp_path)
    assert (len(data.train), len(data.dev), len(data.test)) == (12, 5, 7)
    assert not set(ids(data.train)) & set(ids(data.dev))
    assert ids(data.test) != [f"test:{line}" for line in range(1, 8)]  # not just the head of the file
    assert load_dataset(spec, base_dir=tmp_path) == data


def test_a_splits_subset_stays_put_when_another_splits_cap_changes(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(50))
    write_jsonl(tmp_path / "test.jsonl", rows(30))
    spec = FileData(format="jsonl", train="train.jsonl", test="test.jsonl", input_field="text", target_field="label",
                    max_train=12, max_dev=5, max_test=7)
    data = load_dataset(spec, base_dir=tmp_path)
    other = load_dataset(msgspec.structs.replace(spec, max_train=20, max_dev=None), base_dir=tmp_path)
    assert ids(other.test) == ids(data.test)
    assert ids(load_dataset(msgspec.structs.replace(spec, seed=1), base_dir=tmp_path).test) != ids(data.test)


def test_bigbench_offers_its_task_prefix(tmp_path: Path) -> None:
    task = {"task_prefix": "Pick the true one.", "examples": [
        {"input": f"q{i}", "target_scores": {"a": i % 2, "b": 1 - i % 2}} for i in range(4)
    ]}
    (tmp_path / "task.json").write_text(json.dumps(task))
    data = load_dataset(FileData(format="bigbench", train="task.json"), base_dir=tmp_path)
    assert data.instruction == "Pick the true one."
    assert {e.target for e in data.train + data.dev} == {"(A)", "(B)"}
    spec = FileData(format="bigbench", train="task.json", instruction="Mine.")
    assert load_dataset(spec, base_dir=tmp_path).instruction == "Mine."


@pytest.mark.parametrize("format", ["bbh", "csv"])
def test_other_formats(tmp_path: Path, format: str) -> None:
    if format == "bbh":
        (tmp_path / "f").write_text(json.dumps({"examples": [{"input": "x", "target": "Yes"}, {"input": "y", "target": "No"}]}))
    else:
        (tmp_path / "f").write_text("input,target\nx,Yes\ny,No\n")
    data = load_dataset(FileData(format=format, train="f", dev="f"), base_dir=tmp_path)
    assert [e.input for e in data.train] == ["x", "y"]


def test_problems_of_all_files_are_reported_together(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(3) + [{"text": "odd", "label": "2"}])
    write_jsonl(tmp_path / "test.jsonl", [{"text": "", "label": "0"}] + rows(2))
    spec = FileData(format="jsonl", train="train.jsonl", dev="missing.jsonl", test="test.jsonl",
                    input_field="text", target_field="label", label_map=LABEL_MAP)
    with pytest.raises(DataError) as caught:
        load_dataset(spec, base_dir=tmp_path)
    assert str(caught.value).splitlines() == [
        f"{tmp_path / 'train.jsonl'}:4: label: label '2' is not in the label map (expected one of '0', '1')",
        f"{tmp_path / 'missing.jsonl'}: file not found",
        f"{tmp_path / 'test.jsonl'}:1: text: the input is empty",
    ]


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text("\n")
    with pytest.raises(DataError, match=r"train\.jsonl: the file holds no examples \(it was given as data\.train\)"):
        load_dataset(FileData(format="jsonl", train="train.jsonl"), base_dir=tmp_path)


def test_unusable_options_name_the_spec_field(tmp_path: Path) -> None:
    spec = FileData(format="jsonl", train="t.jsonl", dev_fraction=1.0, max_test=0, label_map={})
    with pytest.raises(DataError) as caught:
        load_dataset(spec, base_dir=tmp_path)
    assert [issue.where for issue in caught.value.issues] == ["data.dev_fraction", "data.max_test", "data.label_map"]


def test_dev_fraction_leaving_no_train_is_an_error(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows(1))
    spec = FileData(format="jsonl", train="train.jsonl", input_field="text", target_field="label", dev_fraction=0.9)
    with pytest.raises(DataError, match="leaves none for training"):
        load_dataset(spec, base_dir=tmp_path)

