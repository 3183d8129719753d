"""The BIG-bench pools rebuilt by `dlngraph data fetch` from a task.json served on 127.0.0.1.

The task.json files are reconstructed from the shared BBH files and pools (tests/data/bigbench_tasks.py):
these tests show that the rebuild is the paper's transformation run backwards, byte for byte,
not that BIG-bench's live file still yields the same pool.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlngraph.cli.main import main
from dlngraph.data import DataError
from dlngraph.data.fetch import MIRROR_ENV, fetch_file
from dlngraph.data.sources import PRESET_FILES
from tests.data.bigbench_tasks import task_examples
from tests.data.mirror_server import mirror_folder, serving


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("task", ["navigate", "hyperbaton"])
def test_fetch_rebuilds_the_pool_byte_for_byte(task: str, mirror: str, tmp_path: Path, shared_data: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(MIRROR_ENV, mirror)
    assert main(["data", "--dir", str(tmp_path), "fetch", task]) == 0
    out = capsys.readouterr().out
    assert f"bb_minus_bbh/{task}.json: rebuilt from BIG-bench's task.json" in out
    rebuilt = tmp_path / "bb_minus_bbh" / f"{task}.json"
    assert _sha256(rebuilt) == _sha256(shared_data / "bb_minus_bbh" / f"{task}.json") == PRESET_FILES[task][1].sha256
    assert sorted(path.name for path in rebuilt.parent.iterdir()) == [f"{task}.json"]  # no temporary file left
    assert main(["data", "--dir", str(tmp_path), "fetch", task]) == 0
    assert f"bb_minus_bbh/{task}.json: already there" in capsys.readouterr().out


def test_a_pool_fetched_alone_fetches_its_bbh_file_first(mirror: str, tmp_path: Path) -> None:
    bbh, pool = PRESET_FILES["navigate"]
    assert fetch_file(pool, tmp_path, mirror=mirror).downloaded
    assert _sha256(tmp_path / bbh.path) == bbh.sha256


def _swap_two_pool_items(examples: list[Any]) -> None:
    examples[1], examples[2] = examples[2], examples[1]  # examples[0] is a BBH item, [1] and [2] pool items


def _flip_a_target(examples: list[Any]) -> None:
    scores = examples[1]["target_scores"]
    scores["True"], scores["False"] = scores["False"], scores["True"]


def _drop_a_bbh_item(examples: list[Any]) -> None:
    del examples[0]


def _bad_option(examples: list[Any]) -> None:
    examples[5]["target_scores"] = {"Maybe": 1, "False": 0}


def _no_winner(examples: list[Any]) -> None:
    examples[6]["target_scores"] = {"True": 0.5, "False": 0.5}


POOL = PRESET_FILES["navigate"][1]
CORRUPTIONS: list[tuple[Callable[[list[Any]], None], str]] = [
    (_swap_two_pool_items, rf"bb_minus_bbh/navigate\.json: sha256 of the rebuild from http://\S+/bigbench/navigate/task\.json "
                           rf"is [0-9a-f]{{64}}, expected {POOL.sha256}"),
    (_flip_a_target, rf"bb_minus_bbh/navigate\.json: the rebuild from \S+ has {POOL.size - 1} bytes, expected {POOL.size}"),
    (_drop_a_bbh_item, r"bb_minus_bbh/navigate\.json: \S+/task\.json holds 249 of the 250 items of bbh/navigate\.json"),
    (_bad_option, r"/bigbench/navigate/task\.json: examples\[5\]\.target_scores: expected an object with the keys "
                  r"'True' and 'False' \(rebuilding bb_minus_bbh/navigate\.json\)"),
    (_no_winner, r"examples\[6\]\.target_scores: expected exactly one option scored 1, found 0"),
]


@pytest.mark.parametrize(("corrupt", "message"), CORRUPTIONS, ids=[corrupt.__name__ for corrupt, _ in CORRUPTIONS])
def test_a_corrupted_task_json_is_an_error_and_leaves_no_pool(
    corrupt: Callable[[list[Any]], None], message: str, tmp_path: Path, shared_data: Path
) -> None:
    examples = task_examples(shared_data, "navigate")
    corrupt(examples)
    data = tmp_path / "data"
    with serving(mirror_folder(tmp_path / "mirror", shared_data, {"navigate": examples})) as url:
        with pytest.raises(DataError, match=message):
            fetch_file(POOL, data, mirror=url)
    assert list((data / "bb_minus_bbh").glob("*")) == []


def _rebuild_error(tmp_path: Path, shared_data: Path, task: str, write: Callable[[Path], None]) -> str:
    folder = mirror_folder(tmp_path / "mirror", shared_data, {task: []})
    write(folder / "bigbench" / task / "task.json")
    with serving(folder) as url, pytest.raises(DataError) as error:
        fetch_file(PRESET_FILES[task][1], tmp_path / "data", mirror=url)
    assert list((tmp_path / "data" / "bb_minus_bbh").glob("*")) == []
    return str(error.value)


def test_a_truncated_task_json_is_an_error(tmp_path: Path, shared_data: Path) -> None:
    text = json.dumps({"examples": task_examples(shared_data, "navigate")})
    message = _rebuild_error(tmp_path, shared_data, "navigate", lambda path: path.write_text(text[: len(text) // 2]))
    assert "/bigbench/navigate/task.json: not a BIG-bench task.json (rebuilding bb_minus_bbh/navigate.json)" in message


def test_a_hyperbaton_input_without_its_sentences_is_an_error(tmp_path: Path, shared_data: Path) -> None:
    bad = {"examples": [{"input": "Which sentence has the correct adjective order: a big old car",
                         "target_scores": {"a": 1, "b": 0}}]}
    message = _rebuild_error(tmp_path, shared_data, "hyperbaton", lambda path: path.write_text(json.dumps(bad)))
    assert message.endswith("/bigbench/hyperbaton/task.json: examples[0].input: expected two quoted sentences after "
                            "'Which sentence has the correct adjective order:' (rebuilding bb_minus_bbh/hyperbaton.json)")
