"""The BIG-bench pools `bb_minus_bbh/<task>.json`, rebuilt as the DLN paper's code built them.

The paper trains on BIG-bench examples that are not in BIG-Bench-Hard's test file: its
scripts `split_bigbench_<task>.py` turn each example of BIG-bench's task.json into a BBH-style
`{"input", "target"}`, drop those whose input is a BBH item (the count dropped must be the BBH
file's count), and write the rest in task.json's order with `json.dump(..., ensure_ascii=False)`.
This module does the same for navigate and hyperbaton, then checks the result's sha256 against
the one kept in `sources` before it takes its name: a changed task.json is an error, not a
silently different pool. (The conversions are checked against a task.json reconstructed from
the pools and BBH files; the live BIG-bench file is not reachable from the tests.)
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlngraph.data.download import check_sum, download, write_atomically
from dlngraph.data.errors import DataError
from dlngraph.data.options import letter_target, with_options
from dlngraph.data.sources import DataFile


class _Bad(Exception):
    """One example that cannot be converted: `where` in it, and why."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where


Converter = Callable[[dict[str, Any]], tuple[str, str]]
"""A task.json example -> its BBH-style (input, target)."""


def rebuild_pool(file: DataFile, url: str, bbh_path: Path, destination: Path) -> None:
    """`destination` rebuilt from the task.json at `url` minus the items of `bbh_path`, checked against `file`'s sum."""
    assert file.rebuild is not None
    convert = CONVERTERS[file.rebuild.task]
    examples = _task_examples(url, file.path)
    bbh_inputs = _bbh_inputs(bbh_path, file.rebuild.bbh.path)
    pool, removed = [], 0
    for index, example in enumerate(examples):
        try:
            text, target = convert(example)
        except _Bad as bad:
            raise DataError.about(url, f"{bad} (rebuilding {file.path})", where=f"examples[{index}]{bad.where}") from None
        if text in bbh_inputs:
            removed += 1
        else:
            pool.append({"input": text, "target": target})
    if removed != len(bbh_inputs):
        raise DataError.about(file.path, f"{url} holds {removed} of the {len(bbh_inputs)} items of "
                                         f"{file.rebuild.bbh.path}, expected all of them")
    body = json.dumps({"examples": pool}, ensure_ascii=False).encode("utf-8")
    check_sum(file, f"the rebuild from {url}", hashlib.sha256(body).hexdigest(), len(body))
    write_atomically(destination, lambda out: out.write(body))


def _task_examples(url: str, name: str) -> list[Any]:
    """The `examples` of the task.json at `url` (read whole: the largest is a few megabytes)."""
    buffer = io.BytesIO()
    download(url, buffer, name)
    try:
        document = json.loads(buffer.getvalue())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError.about(url, f"not a BIG-bench task.json (rebuilding {name}): {error}") from None
    examples = document.get("examples") if isinstance(document, dict) else None
    if not isinstance(examples, list):
        raise DataError.about(url, f"expected an object with a list 'examples' (rebuilding {name})")
    return examples


def _bbh_inputs(path: Path, name: str) -> set[str]:
    """The inputs of the BBH file, each once (the paper's script asserts they are distinct)."""
    inputs = [example["input"] for example in json.loads(path.read_text(encoding="utf-8"))["examples"]]
    if len(set(inputs)) != len(inputs):
        raise DataError.about(name, "the same input appears twice")
    return set(inputs)


def _input(example: dict[str, Any]) -> str:
    if not isinstance(example, dict) or not isinstance(example.get("input"), str):
        raise _Bad(".input", "expected an example with a string 'input'")
    return example["input"]


def _winner(example: dict[str, Any], keys: tuple[str, ...] | None, count: int) -> tuple[list[str], int]:
    """The option keys of `target_scores` in file order and the position of the one scored 1."""
    scores = example.get("target_scores")
    if not isinstance(scores, dict) or len(scores) != count or (keys is not None and not set(scores) <= set(keys)):
        expected = f"the keys {' and '.join(map(repr, keys))}" if keys else f"{count} options"
        raise _Bad(".target_scores", f"expected an object with {expected}")
    winners = [position for position, score in enumerate(scores.values()) if score == 1]
    if len(winners) != 1:
        raise _Bad(".target_scores", f"expected exactly one option scored 1, found {len(winners)}")
    return list(scores), winners[0]


NAVIGATE_QUESTION = "If you follow these instructions, do you return to the starting point? "
NAVIGATE_WORDS = {"True": "Yes", "False": "No"}


def navigate(example: dict[str, Any]) -> tuple[str, str]:
    """The instructions after BBH's question, options `- Yes`/`- No` in `target_scores` order.

    The target is the word at the winning option's position ("Yes" for the first), as in the
    paper's script: the same as the option's own word while True comes before False.
    """
    text = _input(example)
    keys, winner = _winner(example, tuple(NAVIGATE_WORDS), 2)
    return with_options(NAVIGATE_QUESTION + text, [NAVIGATE_WORDS[key] for key in keys], "words"), \
        tuple(NAVIGATE_WORDS.values())[winner]


HYPERBATON_QUESTION = "Which sentence has the correct adjective order:"


def hyperbaton(example: dict[str, Any]) -> tuple[str, str]:
    """BBH's question, then the two quoted sentences after it as options (A) and (B)."""
    quoted = _input(example).split(HYPERBATON_QUESTION)[-1].split('"')
    if len(quoted) < 4:
        raise _Bad(".input", f"expected two quoted sentences after '{HYPERBATON_QUESTION}'")
    _, winner = _winner(example, None, 2)
    return with_options(HYPERBATON_QUESTION, [quoted[1].strip(), quoted[3].strip()], "letters"), letter_target(winner)


CONVERTERS: dict[str, Converter] = {"navigate": navigate, "hyperbaton": hyperbaton}
"""Every BIG-bench task a pool is rebuilt from."""
