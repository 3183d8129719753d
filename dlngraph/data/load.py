"""From the spec's `data` section to a `Dataset`: one entry point for the three sources.

- `generated`: a procedural task, balanced and exact, fixed by a seed;
- `preset`: one of the paper's four tasks with the paper's splits;
- `files`: the user's own files, with a dev split carved from train when none is given.

Relative paths are read from `base_dir` (the spec file's folder), so a spec means the same
data wherever it is run from.
"""

from __future__ import annotations

import random
from pathlib import Path

import msgspec

from dlngraph.data.errors import DataError, DataIssue
from dlngraph.data.fetch import missing_files
from dlngraph.data.formats import (
    FieldMap,
    read_bbh,
    read_bigbench,
    read_csv,
    read_jsonl,
)
from dlngraph.data.home import data_home
from dlngraph.data.presets import load_preset
from dlngraph.data.tasks import generate_dataset, get_task
from dlngraph.data.types import Dataset, Example
from dlngraph.spec.checks.ranges import check_struct_ranges
from dlngraph.spec.data import DataSpec, FileData, GeneratedData, PresetData
from dlngraph.spec.paths import format_path

Read = tuple[list[Example], str | None]
"""A file's examples and the instruction it offers (a BIG-bench `task_prefix`), if any."""


def load_dataset(data: DataSpec, *, base_dir: Path) -> Dataset:
    """The dataset the spec's `data` section describes; a `DataError` lists every problem.

    The data's own `seed` decides every split (a generated task, the preset's draws, the dev
    carved from a lone train file, the `max_*` subsets); the training seed plays no part, so
    runs with different training seeds and `eval` score the same examples. Its default is the
    paper's seed, so presets get the paper's splits.
    """
    match data:
        case GeneratedData():
            return _generated(data)
        case PresetData():
            return _preset(data, base_dir)
        case FileData():
            return _files(data, base_dir)
    raise TypeError(f"unknown data source: {type(data).__name__}")


def preset_folder(data: PresetData, base_dir: Path) -> Path:
    """The folder a preset reads: its `data_dir`, else the user's data folder, which must hold
    the preset's files (a `DataError` names the command that fetches them)."""
    if data.data_dir is not None:
        return resolve_data_path(data.data_dir, base_dir)
    folder = data_home()
    missing = missing_files(data.name, folder)
    if missing:
        names = ", ".join(file.path for file in missing)
        raise DataError.about(
            folder, f"preset '{data.name}' has no data here (missing {names}): fetch it with `dlngraph data fetch {data.name}`"
        )
    return folder


def resolve_data_path(path: str, base_dir: Path) -> Path:
    """`path` as written in the spec, read relative to the spec's folder unless absolute."""
    return base_dir / Path(path).expanduser()


def _preset(data: PresetData, base_dir: Path) -> Dataset:
    """The paper's splits of a preset, each cut to its `max_*` cap."""
    _check_options(data)
    dataset = load_preset(data.name, preset_folder(data, base_dir), seed=data.seed, instruction=data.instruction)
    return _capped(dataset, data)


def _capped(dataset: Dataset, data: PresetData | FileData) -> Dataset:
    """The dataset with each split cut to the data's `max_*` cap, each subset drawn with the
    data's seed by a generator of its own."""
    return msgspec.structs.replace(
        dataset,
        train=_cap(dataset.train, data.max_train, _rng(data.seed, "train")),
        dev=_cap(dataset.dev, data.max_dev, _rng(data.seed, "dev")),
        test=_cap(dataset.test, data.max_test, _rng(data.seed, "test")),
    )


def _generated(data: GeneratedData) -> Dataset:
    task = get_task(data.task, data.params)
    sizes = data.sizes
    return generate_dataset(
        task,
        train=sizes.train,
        dev=sizes.dev,
        test=sizes.test,
        seed=data.seed,
        instruction=data.instruction,
    )


def _files(data: FileData, base_dir: Path) -> Dataset:
    """The user's files: read every one (reporting all bad rows at once), then split and cap."""
    _check_options(data)
    fields = FieldMap(input_field=data.input_field, target_field=data.target_field, label_map=data.label_map)
    paths = {split: resolve_data_path(path, base_dir) for split, path in file_splits(data).items()}
    read = _read_files(data.format, paths, fields)
    train = read["train"][0]
    dev = read["dev"][0] if "dev" in read else None
    if dev is None:
        train, dev = _carve_dev(train, data.dev_fraction, _rng(data.seed, "carve"), paths["train"])
    test = read["test"][0] if "test" in read else []
    dataset = Dataset(
        name=paths["train"].stem, train=train, dev=dev, test=test,
        instruction=data.instruction or read["train"][1],
        labels=list(dict.fromkeys(data.label_map.values())) if data.label_map else None,
    )
    return _capped(dataset, data)


def _rng(seed: int, purpose: str) -> random.Random:
    """A generator of its own for each draw, so that one split's subset does not move when
    another split's cap changes."""
    return random.Random(f"{seed}:{purpose}")


def _check_options(data: PresetData | FileData) -> None:
    """Options the spec's types allow but that cannot work, named by their place in the spec."""
    issues = [
        _spec_issue(format_path(finding.path), finding.message)
        for finding in check_struct_ranges(data, ("data",))
    ]
    if isinstance(data, FileData) and data.label_map is not None and not data.label_map:
        issues.append(_spec_issue("data.label_map", "the label map is empty; leave it out to keep targets as they are"))
    if issues:
        raise DataError(issues)


def _spec_issue(where: str, message: str) -> DataIssue:
    return DataIssue(file="", line=0, where=where, message=message)


def file_splits(data: FileData) -> dict[str, str]:
    """The split files a `FileData` names, by split."""
    splits = {"train": data.train, "dev": data.dev, "test": data.test}
    return {split: path for split, path in splits.items() if path is not None}


def _read_files(format: str, paths: dict[str, Path], fields: FieldMap) -> dict[str, Read]:
    """Every file read, or one DataError with the problems of all of them, so one run shows them all."""
    results: dict[str, Read] = {}
    errors: list[DataError] = []
    for split, path in paths.items():
        try:
            results[split] = _read_file(format, path, split, fields)
        except DataError as error:
            errors.append(error)
    if errors:
        raise DataError([issue for error in errors for issue in error.issues], total=sum(error.total for error in errors))
    return results


def _read_file(format: str, path: Path, split: str, fields: FieldMap) -> Read:
    """One file's examples (ids `{split}:...`) and offered instruction; an empty file is an error."""
    if format == "bigbench":
        task = read_bigbench(path, role=split, fields=fields)
        examples, instruction = task.examples, task.task_prefix
    else:
        reader = {"bbh": read_bbh, "jsonl": read_jsonl, "csv": read_csv}[format]
        examples, instruction = reader(path, role=split, fields=fields), None
    if not examples:
        raise DataError.about(path, f"the file holds no examples (it was given as data.{split})")
    return examples, instruction


def _carve_dev(examples: list[Example], fraction: float, rng: random.Random, path: Path) -> tuple[list[Example], list[Example]]:
    """(train, dev): a random `fraction` of the train file becomes dev; both keep file order."""
    dev_size = round(len(examples) * fraction)
    if dev_size == len(examples):
        raise DataError.about(
            path, f"dev_fraction {fraction} of {len(examples)} examples leaves none for training", where="data.dev_fraction"
        )
    chosen = set(rng.sample(range(len(examples)), dev_size))
    train = [example for index, example in enumerate(examples) if index not in chosen]
    dev = [example for index, example in enumerate(examples) if index in chosen]
    return train, dev


def _cap(examples: list[Example], limit: int | None, rng: random.Random) -> list[Example]:
    """At most `limit` examples, a random subset in file order (files are often sorted by label)."""
    if limit is None or len(examples) <= limit:
        return examples
    kept = sorted(rng.sample(range(len(examples)), limit))
    return [examples[index] for index in kept]
