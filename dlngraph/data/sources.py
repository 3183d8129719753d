"""Where the paper's preset data comes from: each preset's files, their public origin and sha256.

A file's `path` is where it lives under the data folder; `url` is the public address it is
downloaded from. Most files are published as they are. The BIG-bench pools
`bb_minus_bbh/<task>.json` are not: the DLN paper's code rebuilt them from BIG-bench's
task.json (BBH-style inputs, the BBH items removed), and so does `dlngraph/data/bigbench_pool.py`;
their `url` is that task.json's and `rebuild` says how. A mirror holds each file at its
`mirror_path`: its own path, or `bigbench/<task>/task.json` for a rebuilt one.

The sums are those of the files the project's tests and benchmarks read (../shared/data).
"""

from __future__ import annotations

import msgspec

BBH_RAW = "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/main/bbh"
ORDERED_PROMPT_RAW = "https://raw.githubusercontent.com/yaolu/Ordered-Prompt/main/data"
BIG_BENCH_RAW = "https://raw.githubusercontent.com/google/BIG-bench/main/bigbench/benchmark_tasks"


class Rebuild(msgspec.Struct, frozen=True, kw_only=True):
    """A BIG-bench pool: task `task`'s task.json in BBH style, minus the items of the file `bbh`."""

    task: str
    bbh: DataFile


class DataFile(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    """Relative to the data folder, with `/` separators."""
    sha256: str
    size: int
    url: str
    origin: str
    rebuild: Rebuild | None = None

    @property
    def mirror_path(self) -> str:
        """Where a mirror (`DLNGRAPH_DATA_MIRROR`) holds what this file is downloaded from."""
        return self.path if self.rebuild is None else f"bigbench/{self.rebuild.task}/task.json"


def _bbh(task: str, sha256: str, size: int) -> DataFile:
    return DataFile(path=f"bbh/{task}.json", sha256=sha256, size=size, url=f"{BBH_RAW}/{task}.json",
                    origin=f"BIG-Bench-Hard, bbh/{task}.json")


def _pool(task: str, bbh: DataFile, sha256: str, size: int) -> DataFile:
    return DataFile(path=f"bb_minus_bbh/{task}.json", sha256=sha256, size=size,
                    url=f"{BIG_BENCH_RAW}/{task}/task.json", rebuild=Rebuild(task=task, bbh=bbh),
                    origin=f"rebuilt from BIG-bench's {task}/task.json in BBH style, minus the items of {bbh.path}")


def _nlu(task: str, file: str, sha256: str, size: int) -> DataFile:
    return DataFile(path=f"nlu/{task}/{file}", sha256=sha256, size=size, url=f"{ORDERED_PROMPT_RAW}/{task}/{file}",
                    origin=f"Ordered-Prompt, data/{task}/{file}")


_BBH_NAVIGATE = _bbh("navigate", "b7944dfd3c81da5c4815bd75b00d6fa3c64140823498e78ed496f4c3d36f7f0d", 55163)
_BBH_HYPERBATON = _bbh("hyperbaton", "b6d7f55c75f5d02f2987a4f3123802dfa093872089a56a334144aae8a7264fdc", 44706)

PRESET_FILES: dict[str, tuple[DataFile, ...]] = {
    "navigate": (
        _BBH_NAVIGATE,
        _pool("navigate", _BBH_NAVIGATE, "97ed44f4d375938fd0120768e03f3d9b9b99e39987694e14f34e804899092fa9", 165796),
    ),
    "hyperbaton": (
        _BBH_HYPERBATON,
        _pool("hyperbaton", _BBH_HYPERBATON, "dc7f166ba0d591ba8a8df758aeac355bf6ca465796d80237e2c4310515d62fbc", 8789426),
    ),
    "subj": (
        _nlu("subj", "train.jsonl", "dcff8bc8f67041b1671cff0370f806a4ff50d036b60e984c47a28e4a7d37d6db", 1293880),
        _nlu("subj", "dev_subsample.jsonl", "b0c25d6b98d382baf3e74fd0bc29247770c232c23b6309de625317e52794e10e", 42544),
        _nlu("subj", "test.jsonl", "64f4eb9c844f89768fcfc153bd73c5297285c3f1d80caaa95e12f46d6e663a94", 327363),
    ),
    "trec": (
        _nlu("trec", "train.jsonl", "a0aeddb43e902809a167a198b0731fe83eedb2f8177dccd7fa9113e083e7bd54", 446651),
        _nlu("trec", "dev_subsample.jsonl", "6547fd1c9a3decc1568e5117990b820c4eebfd567c70285b503ba766a9d00396", 17183),
        _nlu("trec", "test.jsonl", "1dcdbf856b9f0e561c6c75cac4587968f996ea0f83f82d00a0d893639bec389d", 33527),
    ),
}
"""Every preset's files, in the order they are fetched."""
