"""BIG-bench task.json files reconstructed from the shared BBH files and pools, for the rebuild tests.

The live task.json is not reachable here, so each example is turned back into BIG-bench's
`{"input", "target_scores"}` form (the inverse of the paper's split scripts, written
independently of `dlngraph.data.bigbench_pool`), with the BBH items spread through the pool so
that dropping them restores the pool's order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NAVIGATE_PREFIX = "If you follow these instructions, do you return to the starting point? "
NAVIGATE_SUFFIX = "\nOptions:\n- Yes\n- No"
HYPERBATON_PREFIX = "Which sentence has the correct adjective order:\nOptions:\n(A) "


def navigate_example(example: dict[str, str]) -> dict[str, Any]:
    text = example["input"]
    assert text.startswith(NAVIGATE_PREFIX) and text.endswith(NAVIGATE_SUFFIX), text
    yes = example["target"] == "Yes"
    return {"input": text[len(NAVIGATE_PREFIX):-len(NAVIGATE_SUFFIX)], "target_scores": {"True": int(yes), "False": int(not yes)}}


def hyperbaton_example(example: dict[str, str]) -> dict[str, Any]:
    text = example["input"]
    assert text.startswith(HYPERBATON_PREFIX), text
    first, second = text[len(HYPERBATON_PREFIX):].split("\n(B) ")
    a = example["target"] == "(A)"
    return {"input": f'Which sentence has the correct adjective order: a " {first} " b " {second} "',
            "target_scores": {"a": int(a), "b": int(not a)}}


INVERSES = {"navigate": navigate_example, "hyperbaton": hyperbaton_example}


def interleave(pool: list[Any], bbh: list[Any]) -> list[Any]:
    """`pool` in order with the `bbh` items spread evenly through it (one first, the rest every few)."""
    step = max(1, len(pool) // len(bbh))
    merged, pending = [], list(bbh)
    for index, item in enumerate(pool):
        if index % step == 0 and pending:
            merged.append(pending.pop(0))
        merged.append(item)
    return merged + pending


def task_examples(shared_data: Path, task: str) -> list[dict[str, Any]]:
    """The reconstructed task.json's examples for `task`."""
    def examples(path: str) -> list[dict[str, str]]:
        return json.loads((shared_data / path).read_text(encoding="utf-8"))["examples"]

    inverse = INVERSES[task]
    return interleave([inverse(e) for e in examples(f"bb_minus_bbh/{task}.json")],
                      [inverse(e) for e in examples(f"bbh/{task}.json")])


def write_task(folder: Path, task: str, examples: list[dict[str, Any]]) -> Path:
    """`examples` as `folder/bigbench/<task>/task.json`, the layout a mirror has."""
    path = folder / "bigbench" / task / "task.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": task, "examples": examples}, indent=1), encoding="utf-8")
    return path
