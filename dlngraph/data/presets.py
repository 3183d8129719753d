"""The four tasks of the DLN paper, split exactly as the paper's code split them.

The reference code (microsoft/deep-language-networks, `dln/dataset.py`) draws every split
with one `numpy.random.RandomState(42)`, whatever the training seed; `seed` here plays that
role (through a pure-Python copy of that generator, `legacy_rng`), so seed 42 gives the
paper's splits item for item:

- navigate, hyperbaton (BIG-Bench-Hard): the BIG-bench pool `bb_minus_bbh/<task>.json` is
  shuffled, its first half (at most 1000) is train and the rest (at most 1000) dev; the
  BBH file `bbh/<task>.json` is test. Hyperbaton's pool also gets its options reordered
  (the same generator, one permutation per train/dev example) and dev is cut to 300.
- subj, trec (from "Fantastically Ordered Prompts"): 1000 rows drawn from `train.jsonl`,
  all of `dev_subsample.jsonl`, 250 rows drawn from `test.jsonl`; each sentence is followed
  by `Options:` and the label words, and the label id becomes its word.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from dlngraph.data.errors import DataError
from dlngraph.data.formats import FieldMap, read_bbh, read_jsonl
from dlngraph.data.legacy_rng import LegacyRandomState
from dlngraph.data.options import LETTERS, letter_target, split_lettered, with_options
from dlngraph.data.types import Dataset, Example

PresetName = Literal["navigate", "hyperbaton", "subj", "trec"]
PAPER_SEED = 42

INSTRUCTIONS: dict[str, str] = {
    "navigate": "Read the following sentence, then determine whether you return to the starting point.",
    "hyperbaton": "Which sentence has the correct adjective order:",
    "subj": "Read the following sentence, then choose whether it is subjective or objective.",
    "trec": (
        "Read the following question, then choose whether it is about a description, entity, "
        "expression, human, location or number."
    ),
}

LABEL_MAPS: dict[str, dict[str, str]] = {
    "subj": {"0": "subjective", "1": "objective"},
    "trec": {"0": "description", "1": "entity", "2": "expression", "3": "human", "4": "location", "5": "number"},
}

BBH_LABELS: dict[str, list[str]] = {"navigate": ["Yes", "No"], "hyperbaton": ["(A)", "(B)"]}

_POOL_SPLIT_CAP = 1000
_DEV_CAP = {"hyperbaton": 300}
_NLU_TRAIN_SIZE = 1000
_NLU_TEST_SIZE = 250


def load_preset(name: PresetName, data_dir: Path, *, seed: int = PAPER_SEED, instruction: str | None = None) -> Dataset:
    """The paper's train/dev/test of `name`, read from `data_dir` (holding `bbh/`, `bb_minus_bbh/`, `nlu/`)."""
    if not data_dir.is_dir():
        raise DataError.about(
            data_dir, "the preset data folder does not exist (it should hold bbh/, bb_minus_bbh/ and nlu/)", where="data.data_dir"
        )
    if name in BBH_LABELS:
        train, dev, test = _bbh_splits(name, data_dir, seed)
        labels = BBH_LABELS[name]
    elif name in LABEL_MAPS:
        train, dev, test = _nlu_splits(name, data_dir, seed)
        labels = list(LABEL_MAPS[name].values())
    else:
        known = ", ".join(sorted([*BBH_LABELS, *LABEL_MAPS]))
        raise DataError.about(data_dir, f"unknown preset '{name}' (expected one of {known})", where="data.name")
    return Dataset(
        name=name, train=train, dev=dev, test=test, instruction=instruction or INSTRUCTIONS[name], labels=labels
    )


def _bbh_splits(name: str, data_dir: Path, seed: int) -> tuple[list[Example], list[Example], list[Example]]:
    fields = FieldMap(labels=BBH_LABELS[name])
    pool_path = data_dir / "bb_minus_bbh" / f"{name}.json"
    pool = read_bbh(pool_path, role="bb_minus_bbh", fields=fields)
    test = read_bbh(data_dir / "bbh" / f"{name}.json", role="bbh", fields=fields)
    if len(pool) < 2:
        raise DataError.about(pool_path, f"expected at least 2 examples to split into train and dev, found {len(pool)}")
    train_size = min(len(pool) // 2, _POOL_SPLIT_CAP)
    dev_size = min(len(pool) - len(pool) // 2, _POOL_SPLIT_CAP)
    rng = LegacyRandomState(seed)
    order = list(range(len(pool)))
    rng.shuffle(order)  # a list, as the reference shuffles its list of rows
    chosen = [pool[index] for index in order[: train_size + _DEV_CAP.get(name, dev_size)]]
    if name != "navigate":  # the reference reorders options of every multiple-choice task
        chosen = [_shuffle_options(example, rng, pool_path) for example in chosen]
    return chosen[:train_size], chosen[train_size:], test


def _shuffle_options(example: Example, rng: LegacyRandomState, path: Path) -> Example:
    """The example with its lettered options permuted by `rng`, and the target following its option."""
    parsed = split_lettered(example.input)
    if parsed is None:
        index = example.id.rpartition(":")[2]
        raise DataError.about(path, "expected lettered options '(A) ...' after 'Options:'", where=f"examples[{index}].input")
    question, texts = parsed
    permutation = rng.permutation(len(texts))
    letters = list(LETTERS[: len(texts)])
    new_index = permutation.index(letters.index(example.target.strip("()")))
    shuffled = [texts[source] for source in permutation]
    return Example(input=with_options(question, shuffled, "letters"), target=letter_target(new_index), id=example.id)


def _nlu_splits(name: str, data_dir: Path, seed: int) -> tuple[list[Example], list[Example], list[Example]]:
    label_map = LABEL_MAPS[name]
    fields = FieldMap(input_field="sentence", target_field="label", label_map=label_map)
    folder = data_dir / "nlu" / name
    files = {"train": "train.jsonl", "dev": "dev_subsample.jsonl", "test": "test.jsonl"}
    rows = {split: read_jsonl(folder / file, role=split, fields=fields) for split, file in files.items()}
    rng = LegacyRandomState(seed)
    train = _draw(rows["train"], _NLU_TRAIN_SIZE, rng, folder / files["train"])
    test = _draw(rows["test"], _NLU_TEST_SIZE, rng, folder / files["test"])
    return _with_options(train, label_map), _with_options(rows["dev"], label_map), _with_options(test, label_map)


def _draw(rows: list[Example], size: int, rng: LegacyRandomState, path: Path) -> list[Example]:
    """`size` rows drawn without replacement, as the reference's `choice(..., replace=False)`."""
    if len(rows) < size:
        raise DataError.about(path, f"expected at least {size} rows to draw from, found {len(rows)}")
    return [rows[index] for index in rng.choice_without_replacement(len(rows), size)]


def _with_options(examples: list[Example], label_map: dict[str, str]) -> list[Example]:
    """Each sentence followed by the label words, as the reference's `append_options` does."""
    words = list(label_map.values())
    return [Example(input=with_options(example.input, words, "words"), target=example.target, id=example.id)
            for example in examples]
