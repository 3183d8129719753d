"""The `data` section: where a network's examples come from.

Three sources, told apart by `source`. Each has a `seed` of its own, fixed by default, that
decides its splits: runs with different training seeds, and `eval`, score the same dev and test
examples.

- `generated`: a procedural task dlngraph generates itself, with exact ground truth (offline);
- `preset`: a task of the paper with the paper's splits, read from the data folder;
- `files`: the user's own files (BBH JSON, BIG-bench task.json, JSONL, CSV).
"""

from __future__ import annotations

from typing import Literal

import msgspec

DATA_SEED = 42
"""The default data seed: the one the DLN paper's code split its data with, whatever the training seed."""


class SplitSizes(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    train: int = 100
    dev: int = 50
    test: int = 50


class GeneratedData(msgspec.Struct, tag="generated", tag_field="source", forbid_unknown_fields=True, kw_only=True):
    task: str
    sizes: SplitSizes = SplitSizes()
    params: dict[str, int | float | str | bool] = msgspec.field(default_factory=dict)
    seed: int = DATA_SEED
    """Generator seed: fixes every split, whatever the training seed."""
    instruction: str | None = None


class PresetData(msgspec.Struct, tag="preset", tag_field="source", forbid_unknown_fields=True, kw_only=True):
    name: Literal["navigate", "hyperbaton", "subj", "trec"]
    data_dir: str | None = None
    """A folder holding `bbh/`, `bb_minus_bbh/` and `nlu/`, resolved against the spec file's
    folder when relative; None reads the user's data folder, where `dlngraph data fetch` puts
    the files (`DLNGRAPH_DATA`, else the platform's cache folder)."""
    max_train: int | None = None
    max_dev: int | None = None
    max_test: int | None = None
    """At most this many of the split, a random subset drawn with `seed` (the paper's dev and
    test sets hold 250-375 examples: a cap makes a small model's run affordable)."""
    seed: int = DATA_SEED
    """Draws the splits and the `max_*` subsets; the default gives the paper's, item for item."""
    instruction: str | None = None


class FileData(msgspec.Struct, tag="files", tag_field="source", forbid_unknown_fields=True, kw_only=True):
    format: Literal["bbh", "bigbench", "jsonl", "csv"]
    train: str
    dev: str | None = None
    test: str | None = None
    input_field: str = "input"
    target_field: str = "target"
    label_map: dict[str, str] | None = None
    dev_fraction: float = 0.5
    """When `dev` is absent, this share of the shuffled train file becomes dev."""
    max_train: int | None = None
    max_dev: int | None = None
    max_test: int | None = None
    seed: int = DATA_SEED
    """Carves dev from train and draws the `max_*` subsets, whatever the training seed."""
    instruction: str | None = None


DataSpec = GeneratedData | PresetData | FileData
